"""Edge cases a user would hit (issue 17, items 6–11 and 13): one test per item, each
checked against the reference package where one exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from labelhouse.quality import (
    Labels,
    bradley_terry,
    cohen_kappa,
    dawid_skene,
    gold_weighted_vote,
    krippendorff_alpha,
    majority_vote,
    ranking_tau,
)


def _dense_inverse_std_err(comp, n: int, scores: np.ndarray, alpha: float) -> np.ndarray:
    """The standard errors as the code computed them before item 6: a dense inverse of the
    gauged information matrix (rebuilt here from the comparisons and the fitted scores)."""
    info = np.zeros((n, n))
    p = 1.0 / (1.0 + np.exp(scores[comp.losers] - scores[comp.winners]))
    np.add.at(info, (comp.winners, comp.losers), -p * (1.0 - p))
    info = info + info.T
    np.fill_diagonal(info, 0.0)
    info[np.diag_indices(n)] = -info.sum(axis=1) + alpha
    inverse = scipy.linalg.inv(info + 1.0 / n)
    return np.sqrt(np.diag(inverse) - 1.0 / (n * (1.0 + alpha)))


def test_item6_bradley_terry_intervals_equal_the_dense_inverse(crowd_module):
    comp = crowd_module.make_comparisons(300, 20_000, n_annotators=40, seed=17)
    for alpha in (0.01, 1.0):
        bt = bradley_terry(comp.winners, comp.losers, n_items=300, alpha=alpha)
        assert bt.ci_method == "fisher"
        expected = _dense_inverse_std_err(comp, 300, bt.scores, alpha)
        np.testing.assert_allclose(bt.std_err, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(bt.ci_high - bt.ci_low, 2 * 1.959963984540054 * expected)
    # alpha = 0 on two disconnected groups: the information is singular; still finite
    win, lose = [0, 1, 2, 3, 0, 2], [1, 0, 3, 2, 1, 3]
    split = bradley_terry(win, lose, alpha=0.0)
    assert np.isfinite(split.std_err).all()


def test_item7_weighted_kappa_uses_the_scale_not_the_python_type():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    truth = rng.choice([1, 2, 4, 5], size=300)  # a 1–5 rating where nobody chooses 3
    a = np.where(rng.random(300) < 0.7, truth, rng.choice([1, 2, 4, 5], size=300))
    b = np.where(rng.random(300) < 0.6, truth, rng.choice([1, 2, 4, 5], size=300))
    for weights in ("linear", "quadratic"):
        ints = cohen_kappa(a, b, weights=weights)
        strings = cohen_kappa(a.astype(str), b.astype(str), weights=weights)
        # without a scale: ranks of the values seen, as scikit-learn's default
        assert ints == pytest.approx(strings, abs=1e-12)
        assert ints == pytest.approx(metrics.cohen_kappa_score(a, b, weights=weights), abs=1e-12)
        # with the field's scale 1..5: distances are rating differences, as sklearn `labels`
        scale = [1, 2, 3, 4, 5]
        on_scale = cohen_kappa(a, b, weights=weights, classes=scale)
        assert on_scale == pytest.approx(
            cohen_kappa(a.astype(str), b.astype(str), weights=weights, classes=scale), abs=1e-12
        )
        assert on_scale == pytest.approx(
            metrics.cohen_kappa_score(a, b, weights=weights, labels=scale), abs=1e-12
        )
        assert on_scale != pytest.approx(ints, abs=1e-3)  # the unused 3 does count
    with pytest.raises(ValueError, match="'6' is not one of"):
        cohen_kappa(["1", "6"], ["1", "2"], classes=[1, 2, 3, 4, 5])


def test_item8_empty_input_gives_empty_results():
    empty = Labels.from_records([])
    mv = majority_vote(empty)
    assert mv.labels.size == 0 and mv.confidence.size == 0
    ds = dawid_skene(empty)
    assert ds.labels.size == 0 and ds.proba.shape == (0, 0) and ds.converged
    # items and workers known but nobody answered: every item without consensus
    unanswered = Labels.from_arrays([], [], [], n_items=3, n_workers=2)
    assert majority_vote(unanswered).labels.tolist() == [-1, -1, -1]
    ds = dawid_skene(unanswered)
    assert ds.labels.tolist() == [-1, -1, -1] and np.isnan(ds.confidence).all()
    assert np.isnan(ds.worker_accuracy).all() and ds.worker_accuracy.size == 2
    gw = gold_weighted_vote(unanswered, [], [])
    assert gw.labels.tolist() == [-1, -1, -1] and gw.weights.size == 2
    bt = bradley_terry([], [])
    assert bt.scores.size == 0 and bt.std_err.size == 0 and bt.converged


def test_item9_empty_nan_and_none_labels_are_missing(tmp_path):
    krippendorff = pytest.importorskip("krippendorff")
    table = [  # annotator × item, None = no label
        ["a", "a", "b", None, "b", None],
        [None, "b", "b", "c", None, "c"],
        [None, "a", "b", "c", "b", None],
    ]
    pd = pytest.importorskip("pandas")
    spellings = iter(["", float("nan"), "NaN", None, pd.NA, " nan"])
    records = [
        (f"item{i}", f"w{w}", value if value is not None else next(spellings))
        for w, row in enumerate(table)
        for i, value in enumerate(row)
    ]
    lab = Labels.from_records(records)
    assert lab.class_ids == ["a", "b", "c"] and len(lab) == 12
    assert (lab.n_items, lab.n_workers) == (6, 3)  # items and workers keep their slot
    codes = {"a": 0.0, "b": 1.0, "c": 2.0, None: np.nan}
    data = np.array([[codes[v] for v in row] for row in table])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(lab) == pytest.approx(expected, abs=1e-12)
    path = tmp_path / "labels.csv"
    path.write_text(
        "item,worker,label\n"
        + "".join(f"{i},{w},{lb if isinstance(lb, str) else ''}\n" for i, w, lb in records),
        encoding="utf-8",
    )
    from_file = Labels.from_csv(path, item="item", worker="worker", label="label")
    assert krippendorff_alpha(from_file) == pytest.approx(expected, abs=1e-12)


def test_item10_numeric_labels_are_parsed_strictly(tmp_path):
    krippendorff = pytest.importorskip("krippendorff")
    rows = [("t1", "x", "1"), ("t1", "y", "1.0"), ("t1", "z", 1), ("t2", "x", "2"),
            ("t2", "y", "3"), ("t3", "x", "3e0"), ("t3", "y", "2.50"), ("t3", "z", "+2.5")]  # fmt: skip
    lab = Labels.from_records(rows)
    assert lab.n_classes == 4 and lab.class_values().tolist() == [1.0, 2.0, 2.5, 3.0]
    data = np.full((3, 3), np.nan)
    for i, w, v in rows:
        data["xyz".index(w), int(i[1]) - 1] = float(v)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert krippendorff_alpha(lab, "ordinal") == pytest.approx(expected, abs=1e-12)
    for bad in [" 1", "1 ", "1_000", "inf", "-Infinity", "１", "١", float("inf")]:
        with pytest.raises(ValueError, match=rf"record 2: label {bad!r} .*plain number"):
            Labels.from_records([("t1", "x", "1"), ("t1", "y", bad)])
    path = tmp_path / "labels.csv"
    path.write_text("item,worker,label\nt1,x,1\nt1,y,1_000\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"labels.csv line 3: label '1_000'"):
        Labels.from_csv(path, item="item", worker="worker", label="label")
    # words that float() rejects anyway stay categories
    words = Labels.from_records([("t1", "x", "cat"), ("t1", "y", "dog")])
    assert words.class_ids == ["cat", "dog"]


def test_item11_kappa_missing_values_and_repeated_ranking_items():
    metrics = pytest.importorskip("sklearn.metrics")
    a = ["x", "y", None, "x", float("nan"), "y", "x"]
    b = ["x", "x", None, "y", float("nan"), "y", None]
    kept = [0, 1, 3, 5]  # items where both annotators gave a label
    expected = metrics.cohen_kappa_score([a[i] for i in kept], [b[i] for i in kept])
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-12)
    nums_a = np.array([1.0, 2.0, np.nan, 1.0, np.nan, 2.0])
    nums_b = np.array([1.0, 1.0, np.nan, 2.0, np.nan, 2.0])
    assert cohen_kappa(nums_a, nums_b) == pytest.approx(expected, abs=1e-12)
    assert math.isnan(cohen_kappa([None, float("nan")], [None, float("nan")]))
    with pytest.raises(ValueError, match=r"order_a lists 'b' twice \(positions 2 and 4\)"):
        ranking_tau(["a", "b", "c", "b"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="order_b lists 'c' twice"):
        ranking_tau(["a", "b", "c"], ["c", "a", "c"])


def test_item13_majority_tie_breaking_versus_crowdkit():
    pd = pytest.importorskip("pandas")
    aggregation = pytest.importorskip("crowdkit.aggregation")
    answers = [3, 1, 2]
    lab = Labels.from_records([("t", f"w{n}", v) for n, v in enumerate(answers)])
    ours = lab.class_ids[int(majority_vote(lab).labels[0])]
    frame = pd.DataFrame({"task": "t", "worker": ["w0", "w1", "w2"], "label": answers})
    theirs = aggregation.MajorityVote().fit_predict(frame)["t"]
    assert (ours, theirs) == (1, 3)  # lowest class vs crowd-kit's first label in the data
    doc = " ".join((majority_vote.__doc__ or "").split())
    assert "crowd-kit does too" not in doc and "first in its input" in doc
