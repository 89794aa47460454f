"""Krippendorff's α: agreement for any number of annotators, missing labels and scale types.

α is the coefficient to show for ratings (ordinal, interval) and whenever items have
different numbers of annotators, because it is built on the coincidence matrix, which
weighs each item's pairs by ``1/(m_u − 1)`` and so uses every pairable label once.

Conventions: items with fewer than two labels are not pairable and are ignored. α is
``nan`` when fewer than two pairable labels exist or when the data hold a single value
(expected disagreement 0: no variation to agree about — the ``krippendorff`` package
raises in that case). Perfect agreement on data with variation gives 1.0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.data import FloatArray, Labels

Metric = Literal["nominal", "ordinal", "interval", "ratio"]

_DENSE_LIMIT = 50_000_000  # item × class cells above which the count table goes sparse


def coincidence_matrix(labels: Labels) -> FloatArray:
    """``o[c, k]``: pairable-value coincidences, Σ_u (pairs (c, k) in unit u) / (m_u − 1).

    Written as ``Nᵀ diag(w) N − diag(Σ_u w_u N_u)`` with ``N`` the item × class count table
    and ``w_u = 1/(m_u − 1)``: one matrix product instead of enumerating pairs.
    """
    k = labels.n_classes
    m = labels.labels_per_item().astype(np.float64)
    weight = np.zeros_like(m)
    np.divide(1.0, m - 1.0, out=weight, where=m >= 2)
    if labels.n_items * k <= _DENSE_LIMIT:
        counts = labels.item_class_counts().astype(np.float64)
        weighted = counts * weight[:, None]
        coinc = counts.T @ weighted
        coinc -= np.diag(weighted.sum(axis=0))
        return coinc
    table = sp.csr_matrix(
        (np.ones(len(labels)), (labels.items, labels.labels)), shape=(labels.n_items, k)
    )
    weighted_sp = sp.diags(weight) @ table
    coinc = (table.T @ weighted_sp).toarray()
    coinc -= np.diag(np.asarray(weighted_sp.sum(axis=0)).ravel())
    return coinc


def _delta2(metric: Metric, values: FloatArray, n_c: FloatArray) -> FloatArray:
    """Squared distance between every pair of classes under the metric."""
    if metric == "nominal":
        return 1.0 - np.eye(values.size)
    if metric == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if metric == "ratio":
        total = values[:, None] + values[None, :]
        diff = values[:, None] - values[None, :]
        out = np.zeros_like(total)
        np.divide(diff, total, out=out, where=total != 0)
        return out**2
    if metric == "ordinal":
        # Ranks: classes sorted by value; distance counts the pairable values lying between.
        order = np.argsort(values, kind="stable")
        n_sorted = n_c[order]
        cum = np.concatenate([[0.0], np.cumsum(n_sorted)])
        i, j = np.meshgrid(np.arange(values.size), np.arange(values.size), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        between = cum[hi + 1] - cum[lo] - (n_sorted[lo] + n_sorted[hi]) / 2.0
        d_sorted = between**2
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return d_sorted[np.ix_(rank, rank)]
    raise ValueError(f"metric must be nominal, ordinal, interval or ratio, got {metric!r}")


def krippendorff_alpha(
    labels: Labels,
    metric: Metric = "nominal",
    *,
    values: npt.ArrayLike | None = None,
) -> float:
    """Krippendorff's α = 1 − D_o / D_e from the coincidence matrix.

    ``values`` gives each class's numeric value for the ordinal/interval/ratio metrics
    (default :meth:`Labels.class_values`: the class ids when numeric, else 0..K−1); for
    ordinal only their order matters.
    """
    vals = labels.class_values() if values is None else np.asarray(values, dtype=np.float64)
    if vals.size != labels.n_classes:
        raise ValueError(
            f"values must give one number per class ({labels.n_classes}), got {vals.size}"
        )
    coinc = coincidence_matrix(labels)
    n_c = coinc.sum(axis=1)
    n = float(n_c.sum())
    if n < 2:
        return float("nan")
    delta2 = _delta2(metric, vals, n_c)
    observed = float((coinc * delta2).sum())
    expected = float((np.outer(n_c, n_c) * delta2).sum()) / (n - 1.0)
    if expected <= 0:
        return float("nan")
    return 1.0 - observed / expected


def krippendorff_alpha_interval(
    items: npt.ArrayLike, values: npt.ArrayLike, *, n_items: int | None = None
) -> float:
    """Interval α straight from (item, numeric value) rows — for sliders and free numbers.

    Avoids a class per distinct value: with ``S1_u = Σx`` and ``S2_u = Σx²`` per unit,
    ``Σ_pairs (x_i − x_j)² = 2(m_u S2_u − S1_u²)``, so D_o and D_e are a few bincounts.
    """
    it = np.asarray(items, dtype=np.int64).ravel()
    x = np.asarray(values, dtype=np.float64).ravel()
    size = int(n_items) if n_items is not None else (int(it.max()) + 1 if it.size else 0)
    m = np.bincount(it, minlength=size).astype(np.float64)
    pairable = (m >= 2)[it]
    it, x = it[pairable], x[pairable]
    n = float(x.size)
    if n < 2:
        return float("nan")
    m = np.bincount(it, minlength=size).astype(np.float64)
    s1 = np.bincount(it, weights=x, minlength=size)
    s2 = np.bincount(it, weights=x * x, minlength=size)
    has = m >= 2
    observed = float((2.0 * (m[has] * s2[has] - s1[has] ** 2) / (m[has] - 1.0)).sum())
    expected = 2.0 * (n * float((x * x).sum()) - float(x.sum()) ** 2) / (n - 1.0)
    if expected <= 0:
        return float("nan")
    return 1.0 - observed / expected
