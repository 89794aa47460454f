"""Chance-corrected agreement for categorical labels (nominal kinds, pairwise choices).

Conventions shared by every coefficient here, so dashboards can rely on them:

* Only items with at least two labels carry information about agreement; items with one
  label are ignored (not counted as agreeing).
* A coefficient whose chance agreement is 1 — everybody always used the same single class —
  is undefined (0/0) and returned as ``nan``, as scikit-learn and statsmodels do: the data
  cannot distinguish skill from chance. Show the percent agreement (1.0) next to it.
* Perfect agreement on data with more than one class gives exactly 1.0; fewer than two
  co-labelled items gives ``nan``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelhouse.quality.data import (
    BoolArray,
    FloatArray,
    IntArray,
    Labels,
    codes_for,
    factorize,
    is_missing,
)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


# --------------------------------------------------------------------------- raw agreement
def item_agreement(labels: Labels) -> FloatArray:
    """Per item: share of annotator pairs that gave the same label (``nan`` if < 2 labels)."""
    counts = labels.item_class_counts()
    n = counts.sum(axis=1)
    pairs = n * (n - 1)
    agree = (counts * (counts - 1)).sum(axis=1)
    out = np.full(labels.n_items, np.nan)
    np.divide(agree, pairs, out=out, where=pairs > 0)
    return out


def percent_agreement(labels: Labels) -> float:
    """Mean over items (with ≥ 2 labels) of the per-item pairwise agreement.

    Every item weighs the same, whatever its number of annotators — the figure a reviewer
    reads as "on a typical task, how often do two annotators agree".
    """
    per_item = item_agreement(labels)
    finite = per_item[~np.isnan(per_item)]
    return float(finite.mean()) if finite.size else float("nan")


def pairwise_agreement_rate(labels: Labels) -> float:
    """Share of agreeing annotator pairs pooled over all items.

    Unlike :func:`percent_agreement`, items with more annotators weigh more (they hold more
    pairs). This is the usual agreement rate for pairwise-preference labels (A / B / tie).
    """
    counts = labels.item_class_counts()
    n = counts.sum(axis=1)
    return _ratio(float((counts * (counts - 1)).sum()), float((n * (n - 1)).sum()))


# --------------------------------------------------------------------------- Cohen's kappa
def _kappa_weights(n_classes: int, weights: Literal["linear", "quadratic"] | None) -> FloatArray:
    grid = np.arange(n_classes, dtype=np.float64)
    diff = np.abs(grid[:, None] - grid[None, :])
    if weights is None:
        return (diff > 0).astype(np.float64)
    if weights == "linear":
        return diff
    if weights == "quadratic":
        return diff**2
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def _present(values: npt.NDArray[Any]) -> BoolArray:
    """Mask of the labels that are given (see :func:`~labelhouse.quality.data.is_missing`)."""
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    if values.dtype.kind == "O":
        return np.fromiter((not is_missing(v) for v in values), dtype=bool, count=values.size)
    if values.dtype.kind == "U":
        stripped = np.char.strip(values)
        return (stripped != "") & (np.char.lower(stripped) != "nan")
    return np.ones(values.size, dtype=bool)


def cohen_kappa(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    n_classes: int | None = None,
    weights: Literal["linear", "quadratic"] | None = None,
    classes: Sequence[Hashable] | None = None,
) -> float:
    """Cohen's κ between two annotators' labels on the same items (aligned arrays).

    Labels may be any hashable values. A missing label (``None``, NaN, empty or ``"nan"``)
    on either side drops that item — it is no class, and two missing labels are no
    agreement. ``weights`` gives weighted κ for ordinal ratings; the distance between two
    labels is the difference of their positions on the scale:

    * ``classes`` — the field's full scale in order (a rating field's ``min..max``), so the
      distance between ratings 2 and 4 is 2 even if nobody answered 3: scikit-learn's
      ``cohen_kappa_score(a, b, labels=classes)``;
    * else with ``n_classes``, integer labels are codes ``0..n_classes − 1`` of the scale;
    * else the scale is the labels seen, in natural order (numbers numerically), whatever
      their Python type: scikit-learn's default (``labels=None``).

    Unweighted κ is the same under all three.
    """
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"the two annotators must label the same items: {a_arr.shape} vs {b_arr.shape}"
        )
    a_arr, b_arr = a_arr.ravel(), b_arr.ravel()
    both = _present(a_arr) & _present(b_arr)
    a_arr, b_arr = a_arr[both], b_arr[both]
    if a_arr.size == 0:
        return float("nan")
    if classes is None and n_classes is not None and a_arr.dtype.kind in "iu":
        classes = range(n_classes)
    if classes is not None:
        codes = codes_for(np.concatenate([a_arr, b_arr]).tolist(), list(classes))
        k = len(classes)
    else:
        codes, uniques = factorize(np.concatenate([a_arr, b_arr]))
        k = max(len(uniques), n_classes or 0)
    codes_a, codes_b = codes[: a_arr.size], codes[a_arr.size :]
    conf = np.bincount(codes_a * k + codes_b, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(conf.sum(axis=1), conf.sum(axis=0)) / conf.sum()
    w = _kappa_weights(k, weights)
    disagreement_expected = float((w * expected).sum())
    if disagreement_expected <= 0:
        return float("nan")
    return 1.0 - float((w * conf).sum()) / disagreement_expected


@dataclass(frozen=True)
class PairKappa:
    """Cohen's κ for every pair of annotators, over the items both labelled.

    ``kappa[a, b]`` is ``nan`` when the pair shares fewer than ``min_common`` items or κ is
    undefined; the diagonal is 1 for annotators who labelled at least ``min_common`` items.
    """

    kappa: FloatArray
    n_common: IntArray
    agreement: FloatArray


def pairwise_kappa_matrix(labels: Labels, *, min_common: int = 2) -> PairKappa:
    """All annotator-pair Cohen's κ at once, from sparse co-labelling counts.

    With ``X_k`` the worker × item indicator of "answered class k" and ``B`` that of
    "labelled the item", the pair's observed agreement is ``Σ_k X_k X_kᵀ``, its co-labelled
    count ``B Bᵀ`` and its marginals ``X_k Bᵀ`` — 2K+1 sparse products whose cost grows with
    Σ_items (annotators per item)², not with the number of pairs. Assumes one label per
    (item, worker); call :meth:`Labels.drop_duplicates` first if re-submissions exist.
    The outputs are dense W × W arrays (fine for hundreds to a few thousand annotators;
    beyond that, select the annotators of interest first).
    """
    w, k = labels.n_workers, labels.n_classes
    ones = np.ones(len(labels), dtype=np.float64)
    shape = (w, labels.n_items)
    both = sp.csr_matrix((ones, (labels.workers, labels.items)), shape=shape)
    both_t = both.T.tocsr()
    n_common = (both @ both_t).toarray()
    agree = np.zeros((w, w))
    chance = np.zeros((w, w))
    for c in range(k):
        mask = labels.labels == c
        if not mask.any():
            continue
        x_c = sp.csr_matrix((ones[mask], (labels.workers[mask], labels.items[mask])), shape=shape)
        agree += (x_c @ x_c.T).toarray()
        said_c = (x_c @ both_t).toarray()  # [a, b]: items both labelled where a said c
        chance += said_c * said_c.T
    with np.errstate(invalid="ignore", divide="ignore"):
        po = agree / n_common
        pe = chance / n_common**2
        kappa = (po - pe) / (1.0 - pe)
    undefined = (n_common < max(min_common, 1)) | (pe >= 1.0 - 1e-12)
    kappa[undefined] = np.nan
    po[n_common < max(min_common, 1)] = np.nan
    diag = np.diag(n_common) >= max(min_common, 1)
    kappa[np.diag_indices(w)] = np.where(diag, 1.0, np.nan)
    return PairKappa(kappa=kappa, n_common=n_common.astype(np.int64), agreement=po)


# --------------------------------------------------------------------------- Fleiss' kappa
def fleiss_kappa_from_counts(counts: npt.ArrayLike) -> float:
    """Fleiss' κ from an item × class count table, allowing a varying number of raters.

    Generalisation used for unequal raters per item (the one in Fleiss, Levin & Paik 2003,
    §18.1, and in most software that accepts it): each item's agreement is
    ``P_i = Σ_k n_ik(n_ik − 1) / (n_i(n_i − 1))``, ``P̄`` their unweighted mean, and chance
    agreement ``P_e = Σ_k p_k²`` with ``p_k`` the pooled share of class ``k`` among all
    labels. With equal raters it is exactly Fleiss (1971). Items with < 2 raters are dropped.
    """
    table = np.asarray(counts, dtype=np.float64)
    n = table.sum(axis=1)
    keep = n >= 2
    if not keep.any():
        return float("nan")
    table, n = table[keep], n[keep]
    p_item = ((table * (table - 1)).sum(axis=1)) / (n * (n - 1))
    p_class = table.sum(axis=0) / n.sum()
    p_e = float((p_class**2).sum())
    if p_e >= 1.0 - 1e-12:
        return float("nan")
    return float((p_item.mean() - p_e) / (1.0 - p_e))


def fleiss_kappa(labels: Labels) -> float:
    """Fleiss' κ over all items; see :func:`fleiss_kappa_from_counts` for unequal raters."""
    return fleiss_kappa_from_counts(labels.item_class_counts())


# --------------------------------------------------------------------------- rankings
def kendall_tau(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Kendall's τ-b between two score/rank vectors over the same items (ties handled).

    τ-b rather than τ-a because ratings and partial rankings tie often, and τ-a would
    cap the agreement of two identical tied rankings below 1.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rankings must cover the same items: {x.shape} vs {y.shape}")
    if x.size < 2:
        return float("nan")
    from scipy import stats  # here, not at import: scipy.stats costs ~70 MB per process

    return float(stats.kendalltau(x, y, variant="b").statistic)


def _positions(order: Sequence[object], name: str) -> dict[object, int]:
    positions: dict[object, int] = {}
    for i, item in enumerate(order):
        if item in positions:
            raise ValueError(
                f"{name} lists {item!r} twice (positions {positions[item] + 1} and {i + 1}); "
                "a ranking names each item once"
            )
        positions[item] = i
    return positions


def ranking_tau(order_a: Sequence[object], order_b: Sequence[object]) -> float:
    """Kendall's τ-b between two orderings (best first) over the items both ranked.

    An ordering that lists an item twice is refused: it has no single position to compare.
    """
    pos_a = _positions(order_a, "order_a")
    pos_b = _positions(order_b, "order_b")
    common = [item for item in pos_a if item in pos_b]
    return kendall_tau([pos_a[i] for i in common], [pos_b[i] for i in common])


# --------------------------------------------------------------------------- free text
TextSimilarity = Callable[[str, str], float]
"""A similarity in [0, 1] between two free-text answers (e.g. token F1, embedding cosine)."""


def text_agreement(texts_per_item: Iterable[Sequence[str]], similarity: TextSimilarity) -> float:
    """Mean over items of the mean pairwise ``similarity`` between annotators' texts.

    There is no default similarity on purpose: what counts as agreeing free text depends
    on the task, so the project supplies it (items with < 2 texts are skipped).
    """
    scores: list[float] = []
    for texts in texts_per_item:
        pair_scores = [
            similarity(texts[i], texts[j])
            for i in range(len(texts))
            for j in range(i + 1, len(texts))
        ]
        if pair_scores:
            scores.append(float(np.mean(pair_scores)))
    return float(np.mean(scores)) if scores else float("nan")
