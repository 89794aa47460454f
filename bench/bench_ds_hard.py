"""Dawid–Skene on hard crowds at 1M labels: plain EM (before) vs SQUAREM (after), issue 17.

Hard crowd (``bench/crowd.py`` ``make_hard_crowd``): 300 workers of whom only 30% are good
— 30% noisy, 20% spammers, 10% one-button clickers, 10% systematic flippers —, skewed
activity, 2–4 labels per item, imbalanced classes; 4 and 8 classes. Prints CPU seconds
(process time, best of ``--repeat``), passes over the labels (EM iterations), whether the
fit converged and its last change, and accuracy against the truth, next to crowd-kit's
DawidSkene (n_iter=100) in the same process when installed. Then lone answers: a crowd
where a third of the items have one answer, with and without ``keep_single_answers``, and
an overlap-1 crowd.

    .venv/bin/python bench/bench_ds_hard.py [--labels 1000000] [--repeat 2] [--no-reference]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from crowd import make_crowd, make_hard_crowd  # bench/ is on sys.path when run as a script
from labelhouse.quality import Labels, dawid_skene, majority_vote

ROW = "{:<26}{:>8}{:>7}{:>10}{:>11}{:>9}"


def cpu(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def crowdkit_ds(lab: Labels) -> tuple[float, np.ndarray] | None:
    if importlib.util.find_spec("crowdkit") is None:
        return None
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    df = pd.DataFrame({"task": lab.items, "worker": lab.workers, "label": lab.labels})
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = DawidSkene(n_iter=100).fit_predict(df)
    seconds = time.process_time() - start
    out = np.full(lab.n_items, -1)
    out[series.index.to_numpy()] = series.to_numpy()
    return seconds, out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    print(ROW.format("hard crowd", "CPU s", "iter", "converged", "last Δ", "accuracy"))
    for k in (4, 8):
        crowd = make_hard_crowd(args.labels, k)
        lab, truth = crowd.labels, crowd.truth
        print(f"{k} classes: {len(lab):,} labels on {lab.n_items:,} items, {lab.n_workers} workers")
        ours = None
        for name, kw in (
            ("plain EM (before)", {"accelerate": False}),
            ("SQUAREM (after)", {}),
        ):
            seconds, r = cpu(args.repeat, lambda kw=kw, lab=lab: dawid_skene(lab, **kw))
            ours = r
            print(
                ROW.format(
                    f"  {name}",
                    f"{seconds:.2f}",
                    r.n_iter,
                    str(r.converged),
                    f"{r.final_change:.1e}",
                    f"{(r.labels == truth).mean():.4f}",
                )
            )
        mv = majority_vote(lab).labels
        print(ROW.format("  majority vote", "", "", "", "", f"{(mv == truth).mean():.4f}"))
        ref = None if args.no_reference else crowdkit_ds(lab)
        if ref is not None:
            assert ours is not None
            delta = int((ours.labels == truth).sum()) - int((ref[1] == truth).sum())
            print(
                ROW.format(
                    "  crowd-kit DawidSkene",
                    f"{ref[0]:.2f}",
                    "100",
                    "",
                    "",
                    f"{(ref[1] == truth).mean():.4f}",
                )
                + f"  (SQUAREM right on {delta:+d} items more)"
            )

    print()
    print("Lone answers (4 classes, DEFAULT mix):")
    for overlap, label in (((1, 3), "1–3 answers per item"), (1, "overlap 1")):
        crowd = make_crowd(60_000, 4, 100, overlap, seed=11)
        lab, truth = crowd.labels, crowd.truth
        single = lab.labels_per_item() == 1
        for name, keep in (("keep_single_answers=False", False), ("default (keep)", True)):
            seconds, r = cpu(
                1, lambda keep=keep, lab=lab: dawid_skene(lab, keep_single_answers=keep)
            )
            print(
                f"  {label:<22}{name:<27} CPU {seconds:5.2f} s, {r.n_iter:>3} iter, converged "
                f"{r.converged}, identifiable {r.identifiable}: accuracy {(r.labels == truth).mean():.4f}"
                f" (on single-answer items {(r.labels[single] == truth[single]).mean():.4f})"
            )
        answered = np.zeros(lab.n_items, dtype=np.int64)
        answered[lab.items] = lab.labels  # for single-answer items: the answer itself
        print(
            f"  {label:<22}{'the lone answers':<27} accuracy on single-answer items "
            f"{(answered[single] == truth[single]).mean():.4f} ({int(single.sum()):,} items)"
        )
    return 0


if __name__ == "__main__":
    from conditions import with_conditions

    sys.exit(with_conditions(main))
