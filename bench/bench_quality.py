"""Quality statistics at 10k, 100k and 1M labels: accuracy and seconds, ours vs references.

Synthetic crowds from ``bench/crowd.py`` (4 classes, 100 workers — good, noisy, spammers,
adversaries — 3–7 labels per item, i.e. varying annotators per item). For each size it
prints majority vote, Dawid–Skene, Fleiss' κ, Krippendorff's α, the annotator-pair κ
matrix and Bradley–Terry (on as many pairwise comparisons), next to crowd-kit,
statsmodels, krippendorff, scikit-learn and choix run in the same process when installed.
Multi-choice consensus runs on as many yes/no decisions (answers × 6 options, 50 workers
of four kinds), against crowd-kit's Dawid–Skene run option by option.

    .venv/bin/python bench/bench_quality.py                      # 10k, 100k, 1M
    .venv/bin/python bench/bench_quality.py --sizes 10000 --no-reference

Our timings are the best of ``--repeat`` runs (default 3); reference timings are one run.
A reference that would exceed ``--budget`` seconds is extrapolated from a partial run or
skipped, and the output says so.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from crowd import (  # bench/ is on sys.path when run as a script
    make_comparisons,
    make_crowd,
    make_multilabel_crowd,
)
from labelhouse.quality import (
    Labels,
    bradley_terry,
    dawid_skene,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    multilabel_dawid_skene,
    multilabel_majority,
    pairwise_kappa_matrix,
)

N_CLASSES = 4
N_WORKERS = 100
ROW = "{:<32}{:>6} | {:>8}{:>10} | {:<34}{:>9}{:>10}"


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fn()
    return time.perf_counter() - start, result


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f}"


def fmt_v(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.4f}"


def line(
    method: str,
    size: str,
    ours_s: float,
    ours_v: float,
    ref: str,
    ref_s: float | None,
    ref_v: float | None,
) -> None:
    print(ROW.format(method, size, fmt_s(ours_s), fmt_v(ours_v), ref, fmt_s(ref_s), fmt_v(ref_v)))


def frame(lab: Labels) -> Any:
    import pandas as pd

    return pd.DataFrame({"task": lab.items, "worker": lab.workers, "label": lab.labels})


def predictions(series: Any, n_items: int) -> np.ndarray:
    out = np.full(n_items, -1)
    out[series.index.to_numpy()] = series.to_numpy()
    return out


def sklearn_pair_kappa(lab: Labels, budget: float) -> tuple[float, float, str]:
    """scikit-learn cohen_kappa_score over every annotator pair sharing ≥ 2 items."""
    from sklearn.metrics import cohen_kappa_score

    start = time.perf_counter()
    grid = np.full((lab.n_workers, lab.n_items), -1, dtype=np.int64)
    grid[lab.workers, lab.items] = lab.labels
    pairs = [(a, b) for a in range(lab.n_workers) for b in range(a + 1, lab.n_workers)]
    values = []
    done = 0
    for a, b in pairs:
        both = (grid[a] >= 0) & (grid[b] >= 0)
        if both.sum() >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values.append(cohen_kappa_score(grid[a, both], grid[b, both]))
        done += 1
        if time.perf_counter() - start > budget:
            break
    elapsed = time.perf_counter() - start
    mean = float(np.nanmean(values)) if values else float("nan")
    if done < len(pairs):
        return elapsed * len(pairs) / done, mean, f"sklearn ({done}/{len(pairs)} pairs, extrap.)"
    return elapsed, mean, "sklearn cohen_kappa_score"


def run_size(n_labels: int, repeat: int, reference: bool, budget: float) -> None:
    size = f"{n_labels // 1000}k" if n_labels < 1_000_000 else f"{n_labels // 1_000_000}M"
    n_items = n_labels // 5
    crowd = make_crowd(n_items, N_CLASSES, N_WORKERS, (3, 7), imbalance=0.3, seed=n_labels)
    fixed = make_crowd(n_items, N_CLASSES, N_WORKERS, 5, imbalance=0.3, seed=n_labels + 1)
    lab, truth = crowd.labels, crowd.truth
    ck = reference and have("crowdkit") and have("pandas")
    print(
        f"{size}: {len(lab):,} labels on {n_items:,} items (fixed-overlap twin: {len(fixed.labels):,}); "
        f"{n_labels:,} comparisons for Bradley–Terry"
    )

    t, mv = best_of(repeat, lambda: majority_vote(lab))
    ref_s = ref_v = None
    if ck:
        from crowdkit.aggregation import MajorityVote

        ref_s, series = once(lambda: MajorityVote().fit_predict(frame(lab)))
        ref_v = float((predictions(series, n_items) == truth).mean())
    line(
        "majority vote (acc)",
        size,
        t,
        float((mv.labels == truth).mean()),
        "crowd-kit MajorityVote" if ck else "crowd-kit not installed",
        ref_s,
        ref_v,
    )

    t, ds = best_of(repeat, lambda: dawid_skene(lab))
    ref_s = ref_v = None
    ref_name = "crowd-kit not installed"
    if ck:
        from crowdkit.aggregation import DawidSkene

        ref_s, series = once(lambda: DawidSkene(n_iter=100).fit_predict(frame(lab)))
        ref_v = float((predictions(series, n_items) == truth).mean())
        ref_name = "crowd-kit DawidSkene"
    line(
        f"Dawid–Skene (acc, {ds.n_iter} it)",
        size,
        t,
        float((ds.labels == truth).mean()),
        ref_name,
        ref_s,
        ref_v,
    )

    t, value = best_of(repeat, lambda: fleiss_kappa(fixed.labels))
    ref_s = ref_v = None
    ref_name = "statsmodels not installed"
    if reference and have("statsmodels"):
        from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

        table = fixed.labels.item_class_counts()  # building the table is not timed for either
        ref_s, ref_v = once(lambda: sm_fleiss(table))
        ref_name = "statsmodels fleiss_kappa"
    line("Fleiss κ (5 per item)", size, t, value, ref_name, ref_s, ref_v)
    t, value = best_of(repeat, lambda: fleiss_kappa(lab))
    line("Fleiss κ (3–7 per item)", size, t, value, "statsmodels: needs equal raters", None, None)

    for metric in ("nominal", "interval"):
        t, value = best_of(repeat, lambda metric=metric: krippendorff_alpha(lab, metric))
        ref_s = ref_v = None
        ref_name = "krippendorff not installed"
        if reference and have("krippendorff"):
            import krippendorff

            data = np.full((lab.n_workers, lab.n_items), np.nan)
            data[lab.workers, lab.items] = lab.labels
            domain = np.arange(N_CLASSES, dtype=float)
            ref_s, ref_v = once(
                lambda metric=metric, data=data, domain=domain: krippendorff.alpha(
                    reliability_data=data, level_of_measurement=metric, value_domain=domain
                )
            )
            ref_name = "krippendorff.alpha"
        line(f"Krippendorff α {metric}", size, t, value, ref_name, ref_s, ref_v)

    t, pk = best_of(repeat, lambda: pairwise_kappa_matrix(lab))
    off = ~np.eye(lab.n_workers, dtype=bool)
    ours_mean = float(np.nanmean(pk.kappa[off]))
    ref_s = ref_v = None
    ref_name = "scikit-learn not installed"
    if reference and have("sklearn"):
        ref_s, ref_v, ref_name = sklearn_pair_kappa(lab, budget)
    line(f"pair κ matrix ({N_WORKERS}², mean)", size, t, ours_mean, ref_name, ref_s, ref_v)

    n_bt = max(100, min(1000, n_labels // 1000))
    comp = make_comparisons(n_bt, n_labels, n_annotators=N_WORKERS, seed=n_labels)
    t, bt = best_of(repeat, lambda: bradley_terry(comp.winners, comp.losers, n_items=n_bt))
    ours_tau = float(stats.kendalltau(bt.scores, comp.true_scores).statistic)
    label = f"Bradley–Terry (τ, {n_bt} items)"
    if reference and have("choix"):
        import choix

        pairs = np.column_stack([comp.winners, comp.losers])
        ref_s, params = once(lambda: choix.ilsr_pairwise(n_bt, pairs, alpha=0.0))
        line(
            label,
            size,
            t,
            ours_tau,
            "choix ilsr_pairwise",
            ref_s,
            float(stats.kendalltau(params, comp.true_scores).statistic),
        )
    else:
        line(label, size, t, ours_tau, "choix not installed", None, None)
    if ck:
        import pandas as pd
        from crowdkit.aggregation import BradleyTerry

        df = pd.DataFrame(
            {
                "worker": comp.annotators,
                "left": comp.first,
                "right": comp.second,
                "label": comp.winners,
            }
        )
        ref_s, scores = once(lambda: BradleyTerry(n_iter=100).fit_predict(df))
        ref_scores = scores.reindex(range(n_bt)).to_numpy()
        line(
            "",
            "",
            t,
            ours_tau,
            "crowd-kit BradleyTerry",
            ref_s,
            float(stats.kendalltau(ref_scores, comp.true_scores).statistic),
        )
    run_multichoice(n_labels, size, repeat, ck)


N_OPTIONS = 6


def run_multichoice(n_labels: int, size: str, repeat: int, ck: bool) -> None:
    """Multi-choice consensus on ``n_labels`` yes/no decisions; value: exact-set accuracy."""
    n_rows = n_labels // N_OPTIONS
    c = make_multilabel_crowd(n_rows // 5, N_OPTIONS, 50, (3, 7), seed=n_labels)
    sizes = {"n_items": c.n_items, "n_workers": c.n_workers}

    def exact(selected: np.ndarray) -> float:
        return float((selected == c.truth).all(axis=1).mean())

    t, mv = best_of(repeat, lambda: multilabel_majority(c.items, c.workers, c.selected, **sizes))
    line("multi-choice majority (set acc)", size, t, exact(mv.selected), "", None, None)
    t, ds = best_of(repeat, lambda: multilabel_dawid_skene(c.items, c.workers, c.selected, **sizes))
    ref_s = ref_v = None
    ref_name = "crowd-kit not installed"
    if ck:
        import pandas as pd
        from crowdkit.aggregation import DawidSkene

        def per_option() -> np.ndarray:
            out = np.zeros_like(c.truth)
            for o in range(N_OPTIONS):
                df = pd.DataFrame({"task": c.items, "worker": c.workers, "label": c.selected[:, o]})
                result = DawidSkene(n_iter=100).fit_predict(df.astype({"label": int}))
                out[result.index.to_numpy(), o] = result.to_numpy() == 1
            return out

        ref_s, ref_sel = once(per_option)
        ref_v = exact(ref_sel)
        ref_name = f"crowd-kit DawidSkene ×{N_OPTIONS} options"
    line(
        f"multi-choice DS (set acc, {ds.n_iter} it)", size, t, exact(ds.selected), ref_name,
        ref_s, ref_v,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds a reference may run before extrapolating",
    )
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    print(
        f"Synthetic crowds: {N_CLASSES} classes, {N_WORKERS} workers (60% good, 20% noisy, 15% spammers, 5% adversaries), 3–7 labels per item, mild class imbalance."
    )
    print(
        f"Ours: best of {args.repeat} runs; references: one run. Values: accuracy vs truth, κ/α value, or Kendall τ vs true scores."
    )
    print(
        "Majority-vote accuracies differ only by tie-breaking (ours: lowest class code; crowd-kit: pandas column order)."
    )
    print(ROW.format("method", "labels", "ours s", "value", "reference", "ref s", "ref value"))
    print("-" * 115)
    for n in args.sizes:
        run_size(n, args.repeat, not args.no_reference, args.budget)
        print("-" * 115)
    return 0


if __name__ == "__main__":
    from conditions import with_conditions

    raise SystemExit(with_conditions(main))
