"""Bradley–Terry with confidence intervals on 100,000 comparisons, 500 to 2,001 items.

Up to 2,000 items the intervals come from the exact inverse information (dense, ``n × n``);
above, from its diagonal. The figures are the whole fit (CPU and wall, best of
``--repeat``) and, on the same information matrix, the interval step alone done the old
way (``scipy.linalg.inv`` then its diagonal) and the current way (Cholesky + triangular
inverse, only the diagonal), with the largest difference between their variances.

    .venv/bin/python bench/bench_bradley_terry.py
    .venv/bin/python bench/bench_bradley_terry.py --items 2000 --comparisons 100000

Run it with ``PYTHONPATH`` on an older checkout to time that checkout's full fit.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from crowd import make_comparisons  # bench/ is on sys.path when run as a script
from labelhouse.quality import preference


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best CPU seconds and best wall seconds of ``repeat`` runs, and the last result."""
    cpu = wall = float("inf")
    result = None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        result = fn()
        cpu = min(cpu, time.process_time() - c)
        wall = min(wall, time.perf_counter() - w)
    return cpu, wall, result


def information(comp: Any, n: int, scores: np.ndarray, alpha: float) -> np.ndarray:
    """The gauged information matrix ``H + 11ᵀ/n`` at the fitted scores, dense."""
    none = np.empty(0, np.int64)
    lo, hi, count, _ = preference._collapse(comp.winners, comp.losers, none, none, n)
    hessian = preference._Hessian(lo, hi, n, alpha)
    p = 1.0 / (1.0 + np.exp(scores[hi] - scores[lo]))
    hessian.update(count * p * (1.0 - p))
    return hessian.matrix.toarray() + 1.0 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[500, 1000, 2000, 2001])
    parser.add_argument("--comparisons", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    new = getattr(preference, "_inverse_diagonal", None)
    print(f"{args.comparisons:,} comparisons, 50 annotators (10% random); best of {args.repeat}")
    print(
        f"{'items':>6} {'ci':>16} | {'fit cpu s':>9} {'fit wall s':>10} | "
        f"{'inv cpu s':>9} {'chol cpu s':>10} {'max |Δvar|':>11}"
    )
    for n in args.items:
        comp = make_comparisons(n, args.comparisons, seed=n)
        cpu, wall, bt = best_of(
            args.repeat, lambda n=n, comp=comp: preference.bradley_terry(
                comp.winners, comp.losers, n_items=n
            ),
        )  # fmt: skip
        cells = ["", "", ""]
        if n <= preference._DENSE_LIMIT and new is not None:
            gauged = information(comp, n, bt.scores, 0.01)
            inv_cpu, _, old_diag = best_of(
                args.repeat, lambda g=gauged: np.diag(scipy.linalg.inv(g, check_finite=False))
            )
            chol_cpu, _, new_diag = best_of(args.repeat, lambda g=gauged: new(g.T.copy().T))
            diff = float(np.max(np.abs(old_diag - new_diag)))
            cells = [f"{inv_cpu:.3f}", f"{chol_cpu:.3f}", f"{diff:.1e}"]
        print(
            f"{n:>6} {bt.ci_method:>16} | {cpu:>9.3f} {wall:>10.3f} | "
            f"{cells[0]:>9} {cells[1]:>10} {cells[2]:>11}"
        )
    return 0


if __name__ == "__main__":
    from conditions import with_conditions

    raise SystemExit(with_conditions(main))
