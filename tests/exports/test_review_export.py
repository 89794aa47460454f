"""Exports carry what review settled on: a ``review`` object per record (correct → the
correction, accept → the accepted annotations' common value, nothing else → null), review
columns in CSV, and reviewed values as the consensus of reviewed tasks; read with one
statement per batch however many tasks were reviewed."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import event, select

from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.annotations.models import Annotation
from labelhouse.exports.records import iter_records
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.review import service as review
from labelhouse.review.models import Review
from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, login, make_org, make_project
from tests.helpers_data import LABEL_AND_TAGS_SCHEMA as SCHEMA
from tests.quality_report.helpers import annotate

# external id → the three annotators' labels
LABELS = {
    "corrected": ("pos", "neg", "neg"),
    "accepted": ("pos", "pos", "neg"),
    "rejected": ("neu", "neu", "neu"),
    "unreviewed": ("neg", "neg", "neg"),
    "re-reviewed": ("pos", "pos", "pos"),
}


@pytest.fixture
def world(db) -> dict[str, Any]:
    """Three annotators label every task; a reviewer corrects, accepts, rejects, leaves one
    alone, and accepts one that is then edited and corrected (the latest review counts)."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=3)
    add_tasks(db, owner, pid, [{"text": k, "external_id": k} for k in LABELS])
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    members = [add_member(db, owner) for _ in range(3)]
    ids: dict[str, int] = {}
    for n, m in enumerate(members):
        ids = annotate(db, m, pid, {k: {"label": v[n]} for k, v in LABELS.items()})
    reviewer = add_member(db, owner, Role.reviewer)

    def decide(ext: str, decision: str, **kw: Any) -> None:
        with db.session() as s:
            review.decide(s, reviewer.actor, ids[ext], decision=decision, **kw)

    decide("corrected", "correct", value={"label": "pos", "tags": ["b", "a"]})
    decide("accepted", "accept")
    decide("rejected", "reject", reason="all wrong")
    decide("re-reviewed", "accept")
    with db.session() as s:  # an accepted answer is edited: it waits for review again
        annotations.save(s, members[0].actor, ids["re-reviewed"], value={"label": "neg"})
    decide("re-reviewed", "correct", value={"label": "neu"})
    return {"owner": owner, "pid": pid, "ids": ids, "reviewer": reviewer, "members": members}


def export(app, world, **params: str) -> bytes:
    r = login(app, world["owner"]).get(f"/api/projects/{world['pid']}/export", params=params)
    assert r.status_code == 200, r.text
    return r.content


def by_ext(content: bytes) -> dict[str, dict[str, Any]]:
    return {r["external_id"]: r for r in map(orjson.loads, content.splitlines())}


def reviewed_at(db, task_id: int) -> datetime:
    with db.read_session() as s:
        return s.scalars(
            select(Review.created_at).where(Review.task_id == task_id).order_by(Review.id.desc())
        ).first()


def test_jsonl_and_json_records_carry_the_reviewed_value(app, db, world):
    records = by_ext(export(app, world))
    reviewer_id = world["reviewer"].actor.user_id
    corrected = records["corrected"]
    assert corrected["review"]["decision"] == "correct"
    assert corrected["review"]["value"] == {"label": "pos", "tags": ["a", "b"]}  # normalised
    assert corrected["review"]["reviewer_id"] == reviewer_id
    stamp = datetime.fromisoformat(corrected["review"]["reviewed_at"])
    assert stamp == reviewed_at(db, world["ids"]["corrected"]) and stamp.tzinfo is not None
    # the annotators' originals are kept, each with how review saw it
    assert [(a["value"], a["review_status"]) for a in corrected["annotations"]] == [
        ({"label": "pos"}, "corrected"),
        ({"label": "neg"}, "corrected"),
        ({"label": "neg"}, "corrected"),
    ]
    # accept: the accepted annotations' most common value per field, unanswered fields left out
    assert records["accepted"]["review"] == {
        "decision": "accept",
        "value": {"label": "pos"},
        "reviewer_id": reviewer_id,
        "reviewed_at": records["accepted"]["review"]["reviewed_at"],
    }
    assert records["rejected"]["review"] is None  # a rejection settles nothing
    assert records["unreviewed"]["review"] is None
    # accepted, then edited and corrected: the latest accept/correct counts
    assert records["re-reviewed"]["review"]["decision"] == "correct"
    assert records["re-reviewed"]["review"]["value"] == {"label": "neu"}

    as_json = {r["external_id"]: r for r in orjson.loads(export(app, world, format="json"))}
    assert as_json == records


def test_accept_of_unanimous_answers_exports_the_shared_value(app, db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=2)
    add_tasks(db, owner, pid, [{"text": "x", "external_id": "x"}])
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    for _ in range(2):
        ids = annotate(db, add_member(db, owner), pid, {"x": {"label": "neg", "tags": ["b"]}})
    reviewer = add_member(db, owner, Role.reviewer)
    with db.session() as s:
        review.decide(s, reviewer.actor, ids["x"], decision="accept")
    [record] = map(
        orjson.loads, login(app, owner).get(f"/api/projects/{pid}/export").content.splitlines()
    )
    assert record["review"]["value"] == {"label": "neg", "tags": ["b"]}


def test_consensus_of_a_reviewed_task_is_the_reviewed_value(app, db, world):
    for params in (
        {"content": "both"},
        {"content": "consensus", "consensus_method": "dawid_skene"},
    ):
        records = by_ext(export(app, world, **params))
        reviewed = {"value": "pos", "confidence": 1.0, "method": "review"}
        assert records["corrected"]["consensus"] == {
            "label": reviewed,
            "tags": {"value": ["a", "b"], "confidence": 1.0, "method": "review"},
        }
        assert records["accepted"]["consensus"] == {"label": reviewed}  # not 2/3 any more
        assert records["re-reviewed"]["consensus"]["label"]["value"] == "neu"
        method = params.get("consensus_method", "majority")
        assert records["unreviewed"]["consensus"]["label"]["method"] == method
        assert records["unreviewed"]["consensus"]["label"]["value"] == "neg"
        assert records["rejected"]["review"] is None
        assert all(c["method"] != "review" for c in records["rejected"]["consensus"].values())
        if params["content"] == "both":  # the raw annotations stay next to it
            assert len(records["corrected"]["annotations"]) == 3


def test_csv_has_review_columns(app, db, world):
    content = export(app, world, format="csv", content="both").decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    header = list(rows[0])
    assert header[header.index("predictions") + 1 :] == [
        "review.decision",
        "review.reviewer_id",
        "review.reviewed_at",
        "review.label",
        "review.tags",
        "consensus.label",
        "consensus.label.confidence",
        "consensus.tags",
        "consensus.tags.confidence",
    ]
    ids = world["ids"]
    corrected = [r for r in rows if r["task_id"] == str(ids["corrected"])]
    assert len(corrected) == 3  # one row per annotation, the review repeated on each
    assert {r["label"] for r in corrected} == {"pos", "neg"}  # originals
    for r in corrected:
        assert (r["review.decision"], r["review.label"]) == ("correct", "pos")
        assert orjson.loads(r["review.tags"]) == ["a", "b"]
        assert r["review.reviewer_id"] == str(world["reviewer"].actor.user_id)
        assert datetime.fromisoformat(r["review.reviewed_at"]).tzinfo is not None
        assert (r["consensus.label"], float(r["consensus.label.confidence"])) == ("pos", 1.0)
    accepted = [r for r in rows if r["task_id"] == str(ids["accepted"])]
    assert {(r["review.decision"], r["review.label"], r["review.tags"]) for r in accepted} == {
        ("accept", "pos", "")
    }
    for ext in ("rejected", "unreviewed"):
        for r in (r for r in rows if r["task_id"] == str(ids[ext])):
            assert all(r[k] == "" for k in header if k.startswith("review."))


def test_reviewed_values_are_read_with_one_statement_per_batch(db):
    """The statement count depends on the number of batches only: no query per reviewed
    task, whether it was accepted (needs its annotations) or corrected."""
    owner = make_org(db)
    reviewer = add_member(db, owner, Role.reviewer)
    annotator = add_member(db, owner)
    batch = 4

    def reviewed_project(n: int) -> int:
        pid = make_project(db, owner, schema=SCHEMA, overlap=1)
        add_tasks(db, owner, pid, [{"text": f"t{i}", "external_id": f"t{i}"} for i in range(n)])
        with db.session() as s:
            queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
        ids = annotate(db, annotator, pid, {f"t{i}": {"label": "pos"} for i in range(n)})
        with db.session() as s:
            for i, tid in enumerate(ids.values()):
                if i % 2:
                    review.decide(s, reviewer.actor, tid, decision="accept")
                else:
                    review.decide(
                        s, reviewer.actor, tid, decision="correct", value={"label": "neg"}
                    )
        return pid

    def statements_for(pid: int) -> tuple[int, list[dict[str, Any]]]:
        with db.read_session() as s:
            schema = load_schema(s, s.get(Project, pid))
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.read_engine, "before_cursor_execute", count)
        try:
            with db.read_session() as s:
                records = list(iter_records(s, pid, schema=schema, raw_json=False, batch=batch))
        finally:
            event.remove(db.read_engine, "before_cursor_execute", count)
        return len(seen), records

    for n in (2 * batch, 5 * batch):
        count, records = statements_for(reviewed_project(n))
        assert len(records) == n
        assert [r["review"]["value"]["label"] for r in records] == ["neg", "pos"] * (n // 2)
        batches = n // batch
        # the staging lookup; tasks, annotations, predictions, reviews; end page
        assert count == 1 + 4 * batches + 1

    with db.read_session() as s:  # every review above had its annotations marked
        assert s.scalar(select(Annotation.id).where(Annotation.review_status.is_(None))) is None
