"""Imported answers downstream: the quality report, consensus, scorecards, exports and the
work queue's deep check treat them like native ones, and exports mark them. A real crowd
set (../shared/qc-real, read in place, never copied) goes through the long format and comes
back out as the consensus the plain majority gives. Both databases."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from labelhouse.annotations import service as annotations
from labelhouse.annotations.imports import import_annotations, import_file
from labelhouse.cli.main import app as cli_app
from labelhouse.exports.records import iter_records
from labelhouse.projects.service import get_project, load_schema
from labelhouse.quality_report import service as quality
from labelhouse.tasks import invariants, queue
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows

QC_REAL = Path(__file__).resolve().parents[3] / "shared" / "qc-real"
DUCK = QC_REAL / "zheng2017" / "d_Duck_Identification" / "answer.csv"


@pytest.fixture
def mixed(db):
    """Three tasks, overlap 3: one native answer by a member, two imported per task."""
    owner = make_org(db)
    pid = make_project(db, owner, overlap=3)
    add_tasks(db, owner, pid, text_rows(3))
    alice = add_member(db, owner)
    for _ in range(3):
        with db.session() as s:
            lease = queue.claim_next(s, alice.actor, pid)
            annotations.save(s, alice.actor, lease.task.id, value={"label": "pos"})
    rows = [
        {"external_id": f"t{i}", "annotator": worker, "value": {"label": label}}
        for i in range(3)
        for worker, label in (("w1", "pos"), ("w2", "neg" if i == 2 else "pos"))
    ]
    with db.session() as s:
        assert import_annotations(s, owner.actor, pid, rows).imported == 6
    return owner, pid, alice


def test_quality_report_and_consensus_count_imported_answers(db, mixed):
    owner, pid, alice = mixed
    with db.read_session() as s:
        report = quality.project_report(s, owner.actor, pid)
        consensus = {
            r.task_id: r.fields["label"]["value"]
            for r in quality.consensus_page(s, owner.actor, pid)
        }
    cards = {c.email: c for c in report.scorecards}
    assert len(cards) == 3  # alice and the two external annotators
    assert {e for e in cards if e != alice.email} == {
        f"w1 [external {owner.organization_id}]",
        f"w2 [external {owner.organization_id}]",
    }
    assert sorted(consensus.values()) == ["pos", "pos", "pos"]  # t2: pos, pos, neg


def test_exports_mark_imported_answers(db, mixed):
    _owner, pid, alice = mixed
    with db.read_session() as s:
        records = list(iter_records(s, pid, raw_json=False))
    marks = Counter(
        (a["annotator_id"] == alice.user_id, a["imported"])
        for r in records
        for a in r["annotations"]
    )
    assert marks == {(True, False): 3, (False, True): 6}


def test_deep_check_is_clean_after_an_import(db, db_url, tmp_path, mixed):
    result = CliRunner().invoke(
        cli_app,
        ["db", "check", "--deep", "--data-dir", str(tmp_path / "cli")],
        env={"LABELHOUSE_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "Work queue: 14 rules over 3 tasks: all hold." in result.stdout


@pytest.mark.skipif(not DUCK.exists(), reason="the real crowd sets (../shared/qc-real) are absent")
def test_a_real_crowd_set_round_trips_to_the_majority_consensus(db):
    with DUCK.open(newline="") as f:
        crowd = list(csv.DictReader(f))
    items = sorted({r["question"] for r in crowd})
    per_item = Counter(r["question"] for r in crowd)
    owner = make_org(db)
    schema = {
        "fields": [
            {
                "name": "duck",
                "kind": "choice",
                "reads": ["text"],
                "options": [{"value": "0"}, {"value": "1"}],
            }
        ]
    }
    pid = make_project(db, owner, schema, overlap=max(per_item.values()))
    add_tasks(db, owner, pid, [{"text": f"image {q}", "external_id": q} for q in items])
    with db.session() as s, DUCK.open("rb") as raw:
        result = import_file(s, owner.actor, pid, raw, filename=DUCK.name, file_format="long")
    assert result.ok, result.problems[:3]
    workers = {r["worker"] for r in crowd}
    assert (result.imported, result.external_annotators_created) == (len(crowd), len(workers))
    with db.session() as s, DUCK.open("rb") as raw:  # the same file again: nothing new
        again = import_file(s, owner.actor, pid, raw, filename=DUCK.name, file_format="long")
    assert (again.imported, again.unchanged) == (0, len(crowd))

    votes: dict[str, Counter[str]] = {q: Counter() for q in items}
    for r in crowd:
        votes[r["question"]][r["answer"]] += 1
    expected = {}
    for q, c in votes.items():
        (top, n), *rest = c.most_common()
        assert not rest or rest[0][1] < n  # no ties in this set
        expected[q] = top
    with db.read_session() as s:
        schema_obj = load_schema(s, get_project(s, owner.actor, pid))
        merged = quality.consensus_by_task(s, pid, schema_obj)
        records = list(iter_records(s, pid, raw_json=False, consensus=merged))
    got = {r["external_id"]: r["consensus"]["duck"]["value"] for r in records}
    assert got == expected
    assert all(a["imported"] for r in records for a in r["annotations"])


def test_the_long_format_reads_tab_separated_crowd_files(db):
    owner = make_org(db)
    schema = {"fields": [{"name": "stars", "kind": "rating", "min": 1, "max": 5}]}
    pid = make_project(db, owner, schema, overlap=2)
    add_tasks(db, owner, pid, [{"external_id": "a"}, {"external_id": "b"}])
    data = b"orig_id\t!amt_worker_ids\tresponse\na\tA1\t5\nb\tA1\t2\na\tA2\t4\n"
    with db.session() as s:
        result = import_file(
            s, owner.actor, pid, io.BytesIO(data), filename="x.csv", file_format="long"
        )
    assert (result.imported, result.external_annotators_created) == (3, 2)
    with db.read_session() as s:
        records = list(iter_records(s, pid, raw_json=False))
    assert sorted(a["value"]["stars"] for r in records for a in r["annotations"]) == [2, 4, 5]
    assert orjson.dumps(records[0]["annotations"][0]["value"]) == b'{"stars":5}'


def test_gold_accuracy_counts_imported_answers_and_gold_has_no_overlap_limit(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=1)
    gold = [
        {"text": "a", "external_id": "g0", "gold": {"label": "pos"}},
        {"text": "b", "external_id": "g1", "gold": {"label": "neg"}},
    ]
    add_tasks(db, owner, pid, gold)
    rows = [
        {"external_id": "g0", "annotator": f"w{i}", "value": {"label": "pos"}} for i in range(3)
    ] + [{"external_id": "g1", "annotator": "w0", "value": {"label": "pos"}}]
    with db.session() as s:
        assert import_annotations(s, owner.actor, pid, rows).imported == 4
    with db.read_session() as s:
        report = quality.project_report(s, owner.actor, pid)
    org = owner.organization_id
    cards = {c.email: (c.gold_accuracy, c.gold_answers) for c in report.scorecards}
    assert cards[f"w0 [external {org}]"] == (0.5, 2)
    assert cards[f"w1 [external {org}]"] == (1.0, 1)
    with db.read_session() as s:
        assert invariants.find_violations(s).problems == []
