"""Dawid–Skene on the real crowds of ``../shared/qc-real``: prior strength and calibration.

For each real set with gold (read in place, never copied; skips cleanly when absent) it
prints the accuracy against gold of our Dawid–Skene with the default (no one-coin prior),
the prior of 2 that won on synthetic crowds, and the prior chosen from the data
(``"auto"``: held-out likelihood, ``auto p`` the strength it chose), next to crowd-kit's MajorityVote, Wawa, DawidSkene, ZeroBasedSkill and
(``--glad``) GLAD run in the same process; then the calibration of the consensus
confidence on gold: mean confidence vs accuracy, and the expected calibration error (ECE,
10 bins) before and after Platt scaling fitted on gold (after: out of fold, 5 folds).

    .venv/bin/python bench/bench_ds_real.py [--glad]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from bench_qc_real import LabelSet, accuracy, find_qc_real, load_all  # bench/ is on sys.path
from labelhouse.quality import dawid_skene
from labelhouse.quality.calibration import calibrate


def crowdkit(glad: bool) -> dict[str, Callable[[LabelSet], np.ndarray]]:
    try:
        import pandas as pd
        from crowdkit import aggregation as agg
    except ImportError:
        return {}
    factories: dict[str, Callable[[], object]] = {
        "ck-MV": agg.MajorityVote,
        "ck-Wawa": agg.Wawa,
        "ck-DS": lambda: agg.DawidSkene(n_iter=100),
        "ck-ZBS": agg.ZeroBasedSkill,
    }
    if glad:
        factories["ck-GLAD"] = agg.GLAD

    def run(factory: Callable[[], object]) -> Callable[[LabelSet], np.ndarray]:
        def predict(ls: LabelSet) -> np.ndarray:
            df = pd.DataFrame(ls.rows, columns=["task", "worker", "label"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = factory().fit_predict(df)  # type: ignore[attr-defined]
            assert ls.labels.item_ids is not None and ls.labels.class_ids is not None
            code = {c: i for i, c in enumerate(ls.labels.class_ids)}
            return np.array([code.get(result.get(i), -1) for i in ls.labels.item_ids])

        return predict

    return {name: run(f) for name, f in factories.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--glad", action="store_true", help="also run crowd-kit GLAD (slow)")
    args = parser.parse_args()
    base = find_qc_real()
    if base is None:
        print("qc-real data not found ($LABELHOUSE_QC_REAL, ../shared/qc-real); skipping.")
        return 0
    print(f"Real crowds from {base} (read in place). Accuracy on gold items:")
    reference = crowdkit(args.glad)
    cols = ["DS", "DS p=2", "DS auto", "auto p", *reference]
    print(
        f"{'set':<8}"
        + "".join(f"{c:>9}" for c in cols)
        + f" | {'best ck':>8}{'DS≥':>5}{'auto≥':>6}"
    )
    calib_rows = []
    for ls in load_all(base):
        truth = ls.truth
        new = dawid_skene(ls.labels)  # the default: no one-coin prior
        two = dawid_skene(ls.labels, one_coin_prior=2.0)
        start = time.process_time()
        auto = dawid_skene(ls.labels, one_coin_prior="auto")
        auto_s = time.process_time() - start
        accs = [accuracy(r.labels, truth) for r in (new, two, auto)]
        line = f"{ls.name:<8}" + "".join(f"{a:>9.4f}" for a in accs)
        line += f"{auto.one_coin_prior:>9g}"
        best = 0.0
        for method in reference.values():
            a = accuracy(method(ls), truth)
            best = max(best, a)
            line += f"{a:>9.4f}"
        if reference:
            marks = ["yes" if a >= best - 1e-12 else "no" for a in (accs[0], accs[2])]
            line += f" | {best:>8.4f}{marks[0]:>5}{marks[1]:>6}"
        print(line + f"   (auto {auto_s:.2f} s CPU)")
        scored = truth >= 0
        cal = calibrate(new.confidence[scored], new.labels[scored] == truth[scored])
        calib_rows.append((ls.name, cal))
    print()
    print("Calibration of the default DS consensus confidence on gold (10 bins):")
    print(f"{'set':<8}{'gold':>6}{'acc':>8}{'mean conf':>10}{'ECE raw':>9}{'ECE cal':>9}  status")
    for name, cal in calib_rows:
        after = f"{cal.ece_after:.4f}" if cal.ece_after is not None else "-"
        print(
            f"{name:<8}{cal.n_gold:>6}{cal.accuracy:>8.4f}{cal.mean_confidence:>10.4f}"
            f"{cal.ece_before:>9.4f}{after:>9}  {cal.status}"
        )
    print("ECE cal is out of fold: Platt scaling fitted on 4/5 of the gold, scored on the rest.")
    return 0


if __name__ == "__main__":
    from conditions import with_conditions

    sys.exit(with_conditions(main))
