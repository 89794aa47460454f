"""The report on multi-choice fields (Dawid–Skene and gold-weighted over options), on
rankings (position and length bias) and gold-weighted span merging, on real databases."""

from __future__ import annotations

import numpy as np
import pytest

from labelhouse import quality
from labelhouse.kinds.registry import parse_schema
from labelhouse.quality_report import service
from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

OPTIONS = ["a", "b", "c"]
TAGS = {"fields": [{"name": "tags", "kind": "choices", "min_selected": 0,
                    "options": [{"value": v} for v in OPTIONS]}]}  # fmt: skip
N_ORDINARY, N_GOLD = 12, 4


def _truth(i: int) -> list[str]:
    """Never all three options, so an annotator who selects everything is wrong."""
    return [o for n, o in enumerate(OPTIONS) if (i + n) % 3 == 0 or (i == n)]


@pytest.fixture
def tags_project(db):
    """Two careful annotators answer the truth; two over-selectors tick every option, so
    the per-option majority (ties keep an option) selects everything."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=TAGS, overlap=4)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": N_GOLD})
    rows = [
        {"data": {"text": f"gold {i}"}, "external_id": f"g{i}", "gold": {"tags": _truth(i)}}
        for i in range(N_GOLD)
    ] + [{"data": {"text": f"item {i}"}, "external_id": f"o{i}"} for i in range(N_ORDINARY)]
    add_tasks(db, owner, pid, rows)
    careful = [add_member(db, owner) for _ in range(2)]
    sloppy = [add_member(db, owner) for _ in range(2)]
    truth = {f"g{i}": _truth(i) for i in range(N_GOLD)} | {
        f"o{i}": _truth(i) for i in range(N_ORDINARY)
    }
    ids: dict[str, int] = {}
    for member in careful:
        ids |= annotate(db, member, pid, {k: {"tags": v} for k, v in truth.items()})
    for member in sloppy:
        annotate(db, member, pid, {k: {"tags": list(OPTIONS)} for k in truth})
    return owner, pid, careful, sloppy, ids, truth


def _consensus(db, owner, pid, method):
    with db.read_session() as s:
        rows = service.consensus_page(s, owner.actor, pid, method=method)
    return {r.task_id: r.fields["tags"] for r in rows}


def test_dawid_skene_and_gold_weighted_recover_the_sets_majority_misses(db, tags_project):
    owner, pid, careful, sloppy, ids, truth = tags_project
    majority = _consensus(db, owner, pid, "majority")
    ds = _consensus(db, owner, pid, "dawid_skene")
    weighted = _consensus(db, owner, pid, "gold_weighted")
    for ext, expected in truth.items():
        assert majority[ids[ext]]["value"] == OPTIONS
        assert majority[ids[ext]]["method"] == "per_option_majority"
        assert ds[ids[ext]]["value"] == expected, ext
        assert ds[ids[ext]]["method"] == "dawid_skene"
        assert weighted[ids[ext]]["value"] == expected, ext
        assert weighted[ids[ext]]["method"] == "gold_weighted"
        assert 0.5 < ds[ids[ext]]["confidence"] <= 1.0
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method="dawid_skene")
    (field,) = report.fields
    assert field.consensus_method == "dawid_skene"
    cards = {c.user_id: c for c in report.scorecards}
    for m in careful:
        card = cards[m.actor.user_id]
        assert card.ds_accuracy > 0.9
        assert card.confusion["tags"]["classes"] == ["absent", "present"]
        assert card.consensus_agreement == pytest.approx(1.0)
    for m in sloppy:
        assert cards[m.actor.user_id].ds_accuracy < 0.8
        matrix = np.asarray(cards[m.actor.user_id].confusion["tags"]["matrix"])
        assert matrix[0, 1] > 0.9  # ticks options that do not apply


def test_report_consensus_is_the_pure_multilabel_model(db, tags_project):
    owner, pid, careful, sloppy, ids, truth = tags_project
    members = careful + sloppy
    users = sorted(m.actor.user_id for m in members)
    tasks = sorted(ids.values())
    by_id = {v: k for k, v in ids.items()}
    items, workers, chosen = [], [], []
    for t, task_id in enumerate(tasks):
        for m in members:
            items.append(t)
            workers.append(users.index(m.actor.user_id))
            picked = truth[by_id[task_id]] if m in careful else OPTIONS
            chosen.append([o in picked for o in OPTIONS])
    ref = quality.multilabel_dawid_skene(
        items, workers, np.asarray(chosen), n_items=len(tasks), n_workers=len(users)
    )
    ds = _consensus(db, owner, pid, "dawid_skene")
    for t, task_id in enumerate(tasks):
        assert ds[task_id]["value"] == [o for o, on in zip(OPTIONS, ref.selected[t]) if on]
        assert ds[task_id]["confidence"] == pytest.approx(ref.confidence[t])


RANKING = {"fields": [{"name": "rank", "kind": "ranking"}]}


def _ranking_rows(n: int) -> list[dict]:
    return [
        {
            "external_id": f"r{i}",
            "prompt": f"question {i}",
            "responses": [
                {"text": "short", "model": "m1"},
                {"text": "a medium answer " * 2, "model": "m2"},
                {"text": "a long, detailed answer " * 6, "model": "m3"},
            ],
        }
        for i in range(n)
    ]


def test_ranking_position_and_length_bias(app, db):
    kind = parse_schema(RANKING).field("rank")
    owner = make_org(db)
    pid = make_project(db, owner, schema=RANKING, overlap=2)
    add_tasks(db, owner, pid, _ranking_rows(30))
    keeper, length_lover = add_member(db, owner), add_member(db, owner)

    def as_shown(task):  # submits the order the widget first shows
        order = kind.display_order(task.id, 3)
        ranks = [0, 0, 0]
        for position, response in enumerate(order):
            ranks[response] = position + 1
        return {"rank": ranks}

    annotate(db, keeper, pid, {f"r{i}": as_shown for i in range(30)})
    annotate(db, length_lover, pid, {f"r{i}": {"rank": [3, 2, 1]} for i in range(30)})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    (pref,) = report.preferences
    assert pref.kind == "ranking"
    assert pref.position_bias.n == 60 and pref.position_bias.expected == pytest.approx(1 / 3)
    assert pref.position_bias.biased
    keeper_stats = pref.per_annotator[keeper.actor.user_id]
    assert keeper_stats["first_shown_share"] == 1.0
    assert keeper_stats["first_shown_chance"] == pytest.approx(1 / 3)
    assert keeper_stats["position_p_value"] == pytest.approx((1 / 3) ** 30)
    assert pref.per_annotator[length_lover.actor.user_id]["position_p_value"] > 0.001
    assert pref.length_bias.biased and pref.length_bias.effect > 0.3
    assert "longer responses are ranked higher" in pref.length_bias.verdict
    assert pref.scores[0].item == "m3"
    body = login(app, owner).get(f"/api/projects/{pid}/quality").json()
    checks = body["preferences"][0]
    assert checks["position_bias"]["expected"] == pytest.approx(1 / 3)
    assert checks["length_bias"]["expected"] == 0.0


SPANS = {"fields": [{"name": "ents", "kind": "spans", "labels": [{"value": "PER"}]}]}


def test_gold_weighted_spans_follow_the_annotator_right_on_gold(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SPANS, overlap=3)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": 3})
    text = "Ada met Bob"
    ada = [{"start": 0, "end": 3, "label": "PER"}]
    bob = [{"start": 8, "end": 11, "label": "PER"}]
    add_tasks(
        db,
        owner,
        pid,
        [{"data": {"text": text}, "external_id": f"g{i}", "gold": {"ents": ada}} for i in range(3)]
        + [{"data": {"text": text}, "external_id": "o"}],
    )
    right, wrong_a, wrong_b = (add_member(db, owner) for _ in range(3))
    keys = [f"g{i}" for i in range(3)] + ["o"]
    ids = annotate(db, right, pid, {k: {"ents": ada} for k in keys})
    for m in (wrong_a, wrong_b):
        annotate(db, m, pid, {k: {"ents": bob} for k in keys})
    with db.read_session() as s:
        plain = service.consensus_page(s, owner.actor, pid)
        weighted = service.consensus_page(s, owner.actor, pid, method="gold_weighted")
    plain_o = next(r for r in plain if r.task_id == ids["o"]).fields["ents"]
    weighted_o = next(r for r in weighted if r.task_id == ids["o"]).fields["ents"]
    assert [x["start"] for x in plain_o["value"]] == [8]
    assert [x["start"] for x in weighted_o["value"]] == [0]
    assert weighted_o["method"] == "gold_weighted" and weighted_o["confidence"] > 0.5
