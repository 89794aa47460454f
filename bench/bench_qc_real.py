"""Aggregation accuracy on seven real crowdsourced label sets with gold answers.

Reads the label sets from ``../shared/qc-real`` beside the repository (or the folder named
by ``LABELHOUSE_QC_REAL``) — they are not part of the repository — and prints, per set,
the accuracy against gold of: our majority vote, our Dawid–Skene, our gold-weighted vote
(weights from 10% of the gold items, scored on the other 90%), and crowd-kit's
MajorityVote and DawidSkene run in the same process when crowd-kit is installed.

    .venv/bin/python bench/bench_qc_real.py

Skips cleanly (exit 0, with a message) when the folder is absent.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelhouse.quality import Labels, dawid_skene, gold_weighted_vote, majority_vote

ROOT = Path(__file__).resolve().parent.parent
GOLD_SHARE = 0.10


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: Labels
    truth: np.ndarray  # class code per item, -1 where no gold answer
    rows: list[tuple[str, str, str]]  # (item, worker, label) as read, for crowd-kit


def find_qc_real() -> Path | None:
    """The data folder: $LABELHOUSE_QC_REAL, else ../shared/qc-real beside the repository."""
    env = os.environ.get("LABELHOUSE_QC_REAL")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "qc-real"]:
        if candidate.is_dir():
            return candidate
    return None


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        header = handle.readline()
        handle.seek(0)
        delimiter = "\t" if header.count("\t") > header.count(",") else ","
        return list(csv.DictReader(handle, delimiter=delimiter))


def _build(name: str, rows: list[tuple[str, str, str]], gold: dict[str, str]) -> LabelSet:
    classes = sorted({r[2] for r in rows} | set(gold.values()), key=lambda v: (len(v), v))
    labels = Labels.from_records(rows, classes=classes)
    code = {c: i for i, c in enumerate(classes)}
    assert labels.item_ids is not None
    truth = np.array([code[gold[i]] if i in gold else -1 for i in labels.item_ids], dtype=np.int64)
    return LabelSet(name, labels, truth, rows)


def load_snow(path: Path, name: str) -> LabelSet:
    """Snow et al. 2008 files: one row per judgment, gold repeated on every row."""
    data = _read(path)
    rows = [(r["orig_id"], r["!amt_worker_ids"], r["response"]) for r in data]
    gold = {r["orig_id"]: r["gold"] for r in data}
    return _build(name, rows, gold)


def load_zheng(folder: Path, name: str) -> LabelSet:
    """Zheng et al. 2017 folders: answer.csv (question, worker, answer) + truth.csv."""
    rows = [(r["question"], r["worker"], r["answer"]) for r in _read(folder / "answer.csv")]
    gold = {r["question"]: r["truth"] for r in _read(folder / "truth.csv")}
    return _build(name, rows, gold)


def load_all(base: Path) -> list[LabelSet]:
    sets = []
    for file, name in (("rte", "RTE"), ("temp", "TEMP"), ("wsd", "WSD")):
        path = base / "snow2008" / f"{file}.standardized.csv"
        if path.exists():
            sets.append(load_snow(path, name))
    for folder, name in (
        ("d_jn-product", "Product"),
        ("s4_Dog_data", "Dog"),
        ("s4_Face_Sentiment_Identification", "Face"),
        ("d_Duck_Identification", "Duck"),
    ):
        path = base / "zheng2017" / folder
        if (path / "answer.csv").exists():
            sets.append(load_zheng(path, name))
    return sets


def accuracy(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    scored = truth >= 0 if mask is None else (truth >= 0) & mask
    return float((predicted[scored] == truth[scored]).mean())


def crowdkit_methods() -> dict[str, Callable[[LabelSet], np.ndarray]]:
    try:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene, MajorityVote
    except ImportError:
        return {}

    def run(model_factory: Callable[[], object]) -> Callable[[LabelSet], np.ndarray]:
        def predict(ls: LabelSet) -> np.ndarray:
            df = pd.DataFrame(ls.rows, columns=["task", "worker", "label"])
            result = model_factory().fit_predict(df)  # type: ignore[attr-defined]
            assert ls.labels.item_ids is not None and ls.labels.class_ids is not None
            code = {c: i for i, c in enumerate(ls.labels.class_ids)}
            return np.array([code[result[i]] for i in ls.labels.item_ids], dtype=np.int64)

        return predict

    return {"ck-MV": run(MajorityVote), "ck-DS": run(lambda: DawidSkene(n_iter=100))}


def main() -> int:
    base = find_qc_real()
    if base is None:
        print(
            "qc-real data not found (looked at $LABELHOUSE_QC_REAL and ../shared/qc-real); skipping."
        )
        return 0
    print(f"Real crowdsourced label sets from {base} (read in place, not copied).")
    sets = load_all(base)
    reference = crowdkit_methods()
    if not reference:
        print(
            "crowd-kit is not installed: reference columns skipped (pip install 'crowd-kit==1.4.2' 'scikit-learn<1.6')."
        )
    header = (
        f"{'set':<8}{'items':>6}{'gold':>6}{'labels':>7}{'workers':>8}{'K':>3} | "
        f"{'MV':>6}{'DS':>7}{'DS s':>7}{'GW*':>7}{'DS+g*':>7}"
    )
    header += "".join(f"{name:>8}" for name in reference) + f" | {'DS−ck-DS':>10}{'DS≥MV':>6}"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    for ls in sets:
        lab, truth = ls.labels, ls.truth
        scored = truth >= 0
        mv = majority_vote(lab).labels
        start = time.perf_counter()
        ds = dawid_skene(lab).labels
        ds_seconds = time.perf_counter() - start
        gold_items = np.nonzero(scored)[0]
        known = gold_items[rng.random(gold_items.size) < GOLD_SHARE]
        held_out = np.ones(lab.n_items, dtype=bool)
        held_out[known] = False
        gw = gold_weighted_vote(lab, known, truth[known]).labels
        ds_gold = dawid_skene(lab, gold_items=known, gold_classes=truth[known]).labels
        acc_ds, acc_mv = accuracy(ds, truth), accuracy(mv, truth)
        line = (
            f"{ls.name:<8}{lab.n_items:>6}{int(scored.sum()):>6}{len(lab):>7}{lab.n_workers:>8}"
            f"{lab.n_classes:>3} | {acc_mv:>6.3f}{acc_ds:>7.3f}{ds_seconds:>7.3f}"
            f"{accuracy(gw, truth, held_out):>7.3f}{accuracy(ds_gold, truth, held_out):>7.3f}"
        )
        reference_ds = None
        for name, method in reference.items():
            predicted = method(ls)
            line += f"{accuracy(predicted, truth):>8.3f}"
            if name == "ck-DS":
                reference_ds = predicted
        diff = "n/a"
        if reference_ds is not None:
            ours_right = int((ds[scored] == truth[scored]).sum())
            delta = ours_right - int((reference_ds[scored] == truth[scored]).sum())
            diff = f"{delta:+d} items"
        line += f" | {diff:>10}{'yes' if acc_ds >= acc_mv else 'no':>6}"
        print(line)
    print(
        "* GW = gold-weighted vote, DS+g = Dawid–Skene with those gold answers clamped; both use "
        f"a random {GOLD_SHARE:.0%} of the gold items and are scored on the other items."
    )
    print(
        "  MV, DS and ck-* columns are scored on every item with a gold answer; DS s = our DS seconds;"
    )
    print("  DS−ck-DS = items our Dawid–Skene labels correctly minus items crowd-kit's does.")
    return 0


if __name__ == "__main__":
    from conditions import with_conditions

    sys.exit(with_conditions(main))
