"""The quality hooks of every kind: compare (1 identical … 0 nothing shared) and merge
(consensus value + confidence), and the Python replica of the widgets' seeded shuffle."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labelhouse import quality
from labelhouse.kinds._responses import hash_string, seeded_order
from labelhouse.kinds.registry import parse_schema

SCHEMA = parse_schema(
    {
        "fields": [
            {
                "name": "c",
                "kind": "choice",
                "options": [{"value": "x"}, {"value": "y"}, {"value": "z"}],
            },
            {
                "name": "m",
                "kind": "choices",
                "min_selected": 0,
                "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}],
            },
            {"name": "r", "kind": "rating", "min": 1, "max": 5},
            {"name": "p", "kind": "pairwise", "strengths": ["slightly", "much"]},
            {"name": "k", "kind": "ranking", "allow_ties": True},
            {"name": "k2", "kind": "ranking", "prompt": None, "responses": "others"},
            {"name": "s", "kind": "spans", "labels": [{"value": "PER"}, {"value": "ORG"}]},
            {"name": "b", "kind": "boxes", "labels": [{"value": "car"}]},
            {"name": "t", "kind": "text", "similarity": "token_f1"},
            {"name": "t0", "kind": "text"},
        ]
    }
)
F = {f.name: f for f in SCHEMA.fields}


def test_agreement_kinds():
    assert {n: f.agreement_kind() for n, f in F.items()} == {
        "c": "nominal",
        "m": "set",
        "r": "ordinal",
        "p": "pairwise",
        "k": "ranking",
        "k2": "ranking",
        "s": "spans",
        "b": "boxes",
        "t": "text",
        "t0": "none",  # free text has no agreement statistic unless a field names one
    }


def test_choice_majority_with_weights_and_option_order_ties():
    c = F["c"]
    assert c.compare("x", "x") == 1.0 and c.compare("x", "y") == 0.0
    assert c.merge(["y", "x", "y"]) == ("y", pytest.approx(2 / 3))
    assert c.merge(["z", "y"]) == ("y", 0.5)  # tie: the option listed first
    assert c.merge(["x", "y", "y"], [5.0, 1.0, 1.0]) == ("x", pytest.approx(5 / 7))
    assert c.merge([]) == (None, 0.0)
    assert c.merge(["gone"]) == (None, 0.0)  # an option removed from the schema
    # the same rule as the vectorised majority vote
    labels = quality.Labels.from_records([(0, 0, "z"), (0, 1, "y")], classes=c.classes())
    assert c.classes()[quality.majority_vote(labels).labels[0]] == "y"
    with pytest.raises(ValueError, match="weights"):
        c.merge(["x"], [1.0, 2.0])


def test_choices_jaccard_and_per_option_majority():
    m = F["m"]
    assert m.compare(["a", "b"], ["a"]) == 0.5
    assert m.compare([], []) == 1.0
    value, conf = m.merge([["a", "b"], ["a"], ["a", "c"]])
    assert value == ["a"]
    assert conf == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m.merge([["a"], ["b"]])[0] == ["a", "b"]  # half the votes keeps an option


def test_rating_distance_and_weighted_median():
    r = F["r"]
    assert r.compare(1, 5) == 0.0 and r.compare(2, 3) == 0.75 and r.compare(4, 4) == 1.0
    assert r.merge([1, 2, 5]) == (2, pytest.approx(1 / 3))
    assert r.merge([1, 2, 4, 5]) == (2, 0.25)  # lower median: a real scale point
    assert r.merge([1, 5], [1.0, 3.0]) == (5, 0.75)
    assert r.classes() == [1, 2, 3, 4, 5] and r.label_of(7) is None


def test_pairwise_majority_strength_and_ties():
    p = F["p"]
    a, b, tie = ({"choice": x, "strength": None} for x in ("A", "B", "tie"))
    assert p.compare(a, a) == 1.0 and p.compare(a, tie) == 0.5 and p.compare(a, b) == 0.0
    value, conf = p.merge(
        [
            {"choice": "B", "strength": "much"},
            {"choice": "B", "strength": "much"},
            {"choice": "B", "strength": "slightly"},
            a,
        ]
    )
    assert value == {"choice": "B", "strength": "much"} and conf == 0.75
    assert p.merge([a, b])[0]["choice"] == "A"  # tie in the vote: A, B, tie order
    assert p.merge([tie, tie, a])[0] == {"choice": "tie", "strength": None}
    assert [tuple(x) for x in p.preferences(b)] == [(1, 0, False)]
    assert [tuple(x) for x in p.preferences(tie)] == [(0, 1, True)]


def test_ranking_tau_and_borda():
    k, k2 = F["k"], F["k2"]
    assert k.compare([1, 2, 3], [1, 2, 3]) == 1.0
    assert k.compare([1, 2, 3], [3, 2, 1]) == 0.0
    assert k.compare([1, 2, 3], [2, 1, 3]) == pytest.approx(
        (quality.kendall_tau([1, 2, 3], [2, 1, 3]) + 1) / 2
    )
    value, conf = k.merge([[1, 2, 3], [2, 1, 3], [1, 3, 2]])
    assert value == [1, 2, 3]  # mean ranks 4/3, 2, 8/3
    assert 0 < conf < 1
    assert k.merge([[1, 2], [2, 1]])[0] == [1, 1]  # ties allowed: equal means tie
    assert k2.merge([[1, 2], [2, 1]])[0] == [1, 2]  # no ties: the earlier response first
    assert len(k.preferences([1, 2, 2])) == 3 and k.preferences([1, 2, 2])[2].tie


def test_spans_overlap_f1_and_voting():
    s = F["s"]
    per = {"start": 0, "end": 3, "label": "PER"}
    assert s.compare([per], [per]) == 1.0
    assert s.compare([per], [{"start": 1, "end": 3, "label": "PER"}]) == 1.0  # overlap match
    assert s.compare([per], [{"start": 0, "end": 3, "label": "ORG"}]) == 0.0
    assert s.compare([], []) == 1.0
    value, conf = s.merge(
        [[per], [{"start": 0, "end": 4, "label": "PER"}], []], data={"text": "Ada Lovelace"}
    )
    assert value == [
        {"start": 0, "end": 4, "label": "PER", "text": "Ada "}
    ]  # median ends 3, 4 → ceil
    assert conf == pytest.approx(2 / 3)
    assert s.merge([[], [], [per]]) == ([], pytest.approx(2 / 3))


def test_boxes_iou_f1_and_voting():
    b = F["b"]
    box = {"x": 0.0, "y": 0.0, "width": 10.0, "height": 10.0, "label": "car"}
    near = {"x": 1.0, "y": 0.0, "width": 10.0, "height": 10.0, "label": "car"}
    far = {"x": 50.0, "y": 50.0, "width": 10.0, "height": 10.0, "label": "car"}
    assert b.compare([box], [near]) == 1.0 and b.compare([box], [far]) == 0.0
    value, conf = b.merge([[box], [near], [far]])
    assert len(value) == 1 and value[0]["x"] == 0.5 and conf == pytest.approx(2 / 3)


def test_text_similarity_hook_and_no_merge():
    t = F["t"]
    assert t.compare("The cat sat", "the cat sat") == 1.0
    assert t.compare("a b", "c d") == 0.0
    assert t.compare("a b c d", "a b") == pytest.approx(2 * 2 / 6)
    assert t.merge(["x", "x"]) == (None, 0.0)


def test_compared_items_model_id_position():
    p = F["p"]
    assert p.compared_items(
        {"responses": [{"text": "1", "model": "m1"}, {"text": "2", "model": "m2"}]}
    ) == ("model", ["m1", "m2"])
    assert p.compared_items({"responses": [{"text": "1", "id": 7}, {"text": "2", "id": "x"}]}) == (
        "id",
        ["7", "x"],
    )
    assert p.compared_items({"responses": ["one", "two"]}) == (
        "position",
        ["response 1", "response 2"],
    )
    assert p.compared_items({"responses": "nope"}) is None


def test_hash_known_values():
    assert hash_string("") == 0x811C9DC5
    assert hash_string("a") == 0xE40C292C  # FNV-1a reference value
    assert sorted(seeded_order(7, "3:x")) == list(range(7))


RANDOM_JS = (
    Path(__file__).resolve().parents[2] / "src/labelhouse/web/static/js/widgets/lib/random.js"
)


def test_python_shuffle_matches_the_widget_javascript():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    seeds = [(2, f"{i}:pref") for i in range(1, 40)] + [(5, "17:rank"), (9, "123456:ränk"), (3, "")]
    script = (
        f"import {{ seededOrder }} from {json.dumps(RANDOM_JS.as_uri())};"
        f"const seeds = {json.dumps(seeds)};"
        "console.log(JSON.stringify(seeds.map(([n, s]) => seededOrder(n, s))));"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [seeded_order(n, s) for n, s in seeds]
    assert F["p"].display_order(5, 2) == seeded_order(2, "5:p")
