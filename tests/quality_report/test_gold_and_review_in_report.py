"""Gold answers and review decisions in the quality report: the gold-weighted consensus,
gold accuracy and review acceptance on the scorecards, and the API's method check."""

from __future__ import annotations

import pytest

from labelhouse.accounts.models import Role
from labelhouse.quality_report import service
from labelhouse.review import service as review
from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.quality_report.helpers import annotate

N_GOLD = 5
ORDINARY = ("o0", "o1", "o2", "o3")


@pytest.fixture
def gold_project(db):
    """Gold says "pos" on g0…g4. The reliable annotator gets every gold task right and
    answers "neg" on ordinary tasks; the two unreliable ones answer "neu" on gold and agree
    with each other on "pos" elsewhere."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_first_n": N_GOLD})
    add_tasks(
        db,
        owner,
        pid,
        [
            {"data": {"text": f"gold {i}"}, "external_id": f"g{i}", "gold": {"label": "pos"}}
            for i in range(N_GOLD)
        ]
        + [{"data": {"text": f"item {k}"}, "external_id": k} for k in ORDINARY],
    )
    reliable, sloppy_a, sloppy_b = (add_member(db, owner) for _ in range(3))
    ids: dict[str, int] = {}
    for member, on_gold, elsewhere in (
        (reliable, "pos", "neg"),
        (sloppy_a, "neu", "pos"),
        (sloppy_b, "neu", "pos"),
    ):
        answers = {f"g{i}": {"label": on_gold} for i in range(N_GOLD)}
        answers |= {k: {"label": elsewhere} for k in ORDINARY}
        ids |= annotate(db, member, pid, answers)
    assert len(ids) == N_GOLD + len(ORDINARY)
    reviewer = add_member(db, owner, Role.reviewer)
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["o0"], decision="accept")
    with db.session() as s:  # only the reliable annotator already said "neg"
        review.decide(s, reviewer.actor, ids["o1"], decision="correct", value={"label": "neg"})
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["o2"], decision="accept")
    return owner, pid, (reliable, sloppy_a, sloppy_b), ids


def _consensus(db, owner, pid, method):
    with db.read_session() as s:
        rows = service.consensus_page(s, owner.actor, pid, method=method)
    return {r.task_id: r.fields["label"] for r in rows}


def test_gold_weighted_outvotes_the_agreeing_unreliable_pair(db, gold_project):
    owner, pid, _, ids = gold_project
    majority = _consensus(db, owner, pid, "majority")
    weighted = _consensus(db, owner, pid, "gold_weighted")
    for k in ORDINARY:
        assert majority[ids[k]]["value"] == "pos"
        assert weighted[ids[k]]["value"] == "neg"
        assert weighted[ids[k]]["method"] == "gold_weighted"
        # the unreliable pair's weight is clipped to 0: the reliable vote carries the task
        assert weighted[ids[k]]["confidence"] > 0.5
    for i in range(N_GOLD):  # gold tasks report their consensus like any other task
        assert weighted[ids[f"g{i}"]]["value"] == "pos"
        assert majority[ids[f"g{i}"]]["value"] == "neu"
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method="gold_weighted")
    assert report.method == "gold_weighted"
    assert report.fields[0].consensus_method == "gold_weighted"


def test_scorecards_show_gold_accuracy_review_acceptance_and_flag(db, gold_project):
    owner, pid, (reliable, sloppy_a, sloppy_b), _ = gold_project
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    cards = {c.user_id: c for c in report.scorecards}
    good = cards[reliable.actor.user_id]
    # 5 of 5 gold answers right; o0, o1 (already "neg"), o2 accepted: 3 of 3
    assert (good.gold_accuracy, good.gold_answers) == (1.0, 5)
    assert (good.review_acceptance, good.reviewed) == (1.0, 3)
    assert "low gold accuracy" not in good.flags
    for member in (sloppy_a, sloppy_b):
        card = cards[member.actor.user_id]
        # 0 of 5 gold answers right; o0 and o2 accepted, o1 corrected: 2 of 3
        assert (card.gold_accuracy, card.gold_answers) == (0.0, 5)
        assert card.review_acceptance == pytest.approx(2 / 3)
        assert card.reviewed == 3
        assert "low gold accuracy" in card.flags


def test_scorecards_without_gold_or_reviews_report_null(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, [{"text": f"item {i}", "external_id": f"t{i}"} for i in range(3)])
    for member in (add_member(db, owner) for _ in range(2)):
        annotate(db, member, pid, {f"t{i}": {"label": "pos"} for i in range(3)})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid, method="gold_weighted")
    assert {
        (c.gold_accuracy, c.gold_answers, c.review_acceptance, c.reviewed)
        for c in report.scorecards
    } == {(None, 0, None, 0)}
    # without any gold the gold-weighted vote is the plain majority
    assert all(r["value"] == "pos" for r in _consensus(db, owner, pid, "gold_weighted").values())


def test_api_accepts_gold_weighted_and_rejects_unknown_methods(app, db, gold_project):
    owner, pid, (reliable, _, _), ids = gold_project
    c = login(app, owner)
    r = c.get(f"/api/projects/{pid}/quality", params={"method": "gold_weighted"})
    assert r.status_code == 200
    body = r.json()
    assert body["method"] == "gold_weighted"
    card = next(x for x in body["scorecards"] if x["user_id"] == reliable.actor.user_id)
    assert (card["gold_accuracy"], card["review_acceptance"]) == (1.0, 1.0)
    r = c.get(f"/api/projects/{pid}/consensus", params={"method": "gold_weighted"})
    assert r.status_code == 200
    rows = {row["task_id"]: row for row in r.json()["items"]}
    assert rows[ids["o0"]]["fields"]["label"]["value"] == "neg"
    for path in ("quality", "consensus"):
        r = c.get(f"/api/projects/{pid}/{path}", params={"method": "weighted_gold"})
        assert r.status_code == 422


def test_scorecards_show_gold_per_field_and_who_is_paused_until_lifted(app, db, gold_project):
    owner, pid, (reliable, sloppy_a, sloppy_b), _ = gold_project
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_min_accuracy": 0.6, "gold_min_answers": 5})

    def cards():
        with db.read_session() as s:
            return {c.user_id: c for c in service.project_report(s, owner.actor, pid).scorecards}

    before = cards()
    assert before[reliable.actor.user_id].gold_fields == {"label": 1.0}
    assert before[sloppy_a.actor.user_id].gold_fields == {"label": 0.0}
    assert not before[reliable.actor.user_id].paused
    assert before[sloppy_a.actor.user_id].paused and before[sloppy_b.actor.user_id].paused
    c = login(app, owner)
    body = c.get(f"/api/projects/{pid}/quality").json()
    paused = {x["user_id"] for x in body["scorecards"] if x["paused"]}
    assert paused == {sloppy_a.actor.user_id, sloppy_b.actor.user_id}
    r = c.post(f"/api/projects/{pid}/annotators/{sloppy_a.actor.user_id}/unpause")
    assert r.status_code == 204
    after = cards()
    assert not after[sloppy_a.actor.user_id].paused and after[sloppy_b.actor.user_id].paused
    # the rule off: nobody is paused
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"gold_min_accuracy": None})
    assert not any(card.paused for card in cards().values())


def test_annotator_pairs_least_agreeing_first(db, gold_project):
    owner, pid, (_, sloppy_a, sloppy_b), _ = gold_project
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    (field,) = report.fields
    # the unreliable pair agrees everywhere; the reliable annotator with neither of them
    assert [(p.tasks, p.agreement) for p in field.pairs] == [(9, 0.0), (9, 0.0), (9, 1.0)]
    last = field.pairs[-1]
    assert {last.a_user_id, last.b_user_id} == {sloppy_a.actor.user_id, sloppy_b.actor.user_id}
    assert last.a_email in (sloppy_a.email, sloppy_b.email)
    assert field.pairs[0].kappa is not None and field.pairs[0].kappa < 0
