"""Importing existing annotations (annotations/imports.py): rows of answers by members and
by external annotators, checked in full before anything is written, idempotent, counted in
the queue like submissions. Both databases."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import ExternalAnnotator, Membership, User
from labelhouse.annotations.imports import import_annotations, import_file
from labelhouse.annotations.models import Annotation, AnnotationImport, AnnotationRevision
from labelhouse.audit.models import AuditEvent
from labelhouse.errors import InvalidInput, NotAuthenticated, PermissionDenied
from labelhouse.tasks import invariants, queue
from labelhouse.tasks.models import Assignment, Task
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows

RATED = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "1"}],
        },
        {"name": "stars", "kind": "rating", "min": 1, "max": 5, "required": False},
    ]
}


@pytest.fixture
def lab(db):
    owner = make_org(db)
    pid = make_project(db, owner, RATED, overlap=3)
    add_tasks(db, owner, pid, text_rows(4))
    alice = add_member(db, owner)
    return owner, pid, alice


def run(db, member, pid, rows, **kw):
    with db.session() as s:
        return import_annotations(s, member.actor, pid, rows, **kw)


def answers(db, pid):
    with db.read_session() as s:
        return s.execute(
            select(Task.external_id, User.email, Annotation.value, Annotation.import_id)
            .join(Task, Task.id == Annotation.task_id)
            .join(User, User.id == Annotation.user_id)
            .where(Annotation.project_id == pid)
            .order_by(Task.external_id, User.email)
        ).all()


def clean_queue(db):
    with db.read_session() as s:
        report = invariants.find_violations(s)
    assert report.problems == [], [v.as_dict() for v in report.problems]


def test_import_stores_answers_marked_imported_and_counted(db, lab):
    owner, pid, alice = lab
    rows = [
        {"external_id": "t0", "annotator": alice.email.upper(), "value": {"label": "pos"}},
        {"external_id": "t0", "annotator": "w42", "value": {"label": "neg", "stars": 2}},
        {
            "external_id": "t1",
            "annotator": "w42",
            "value": {"label": "1"},
            "created_at": "2024-05-01T12:30:00Z",
            "lead_time_ms": 4200,
        },
    ]
    result = run(db, owner, pid, rows, source="test", filename="old.jsonl")
    assert result.ok and result.problems == []
    assert (result.rows, result.imported, result.unchanged, result.updated) == (3, 3, 0, 0)
    assert result.external_annotators_created == 1
    stored = answers(db, pid)
    assert [(e, v) for e, _, v, _ in stored] == [
        ("t0", {"label": "pos"}),
        ("t0", {"label": "neg", "stars": 2}),
        ("t1", {"label": "1"}),
    ]
    assert stored[0][1] == alice.email  # an e-mail of a member is that member
    assert all(import_id == result.import_id for *_, import_id in stored)
    with db.read_session() as s:
        ext = s.scalar(select(ExternalAnnotator))
        assert (ext.identity, ext.organization_id) == ("w42", owner.organization_id)
        t1 = s.scalar(select(Annotation).join(Task).where(Task.external_id == "t1"))
        assert (t1.lead_time_ms, t1.created_at.isoformat()) == (4200, "2024-05-01T12:30:00+00:00")
        assert s.scalar(select(func.count()).select_from(AnnotationRevision)) == 3
        tasks = {e: n for e, n in s.execute(select(Task.external_id, Task.taken))}
        assert tasks == {"t0": 2, "t1": 1, "t2": 0, "t3": 0}
        assert s.scalar(select(func.count()).where(Assignment.status == "submitted")) == 3
        record = s.get(AnnotationImport, result.import_id)
        assert (record.imported, record.externals_created, record.filename) == (3, 1, "old.jsonl")
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "annotations.import"))
        assert event.details["imported"] == 3
    clean_queue(db)


def test_the_same_rows_again_change_nothing(db, lab):
    owner, pid, alice = lab
    rows = [
        {"task_id": None, "external_id": "t2", "annotator": "crowd-7", "value": {"label": "neg"}},
        {"external_id": "t3", "annotator": alice.email, "value": {"label": "pos"}},
    ]
    first = run(db, owner, pid, rows)
    again = run(db, owner, pid, rows)
    assert (first.imported, again.imported, again.unchanged) == (2, 0, 2)
    assert again.external_annotators_created == 0
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(Annotation)) == 2
        assert s.scalar(select(func.count()).select_from(User)) == 3  # owner, alice, crowd-7
        assert s.scalar(select(func.sum(Task.taken))) == 2
    clean_queue(db)


def test_a_different_answer_is_refused_unless_update_makes_it_a_revision(db, lab):
    owner, pid, _ = lab
    run(db, owner, pid, [{"external_id": "t0", "annotator": "w1", "value": {"label": "pos"}}])
    changed = [{"external_id": "t0", "annotator": "w1", "value": {"label": "neg"}}]
    refused = run(db, owner, pid, changed)
    assert not refused.ok and refused.import_id is None
    assert refused.problems[0].field == "row 1"
    assert "already has a different answer" in refused.problems[0].problem
    assert "update" in refused.problems[0].problem
    with db.session() as s:
        from labelhouse.annotations.imports import import_located

        done = import_located(
            s, owner.actor, pid, [("row 1", changed[0])], source="test", filename=None, update=True
        )
    assert (done.updated, done.imported) == (1, 0)
    with db.read_session() as s:
        a = s.scalar(select(Annotation))
        assert (a.value, a.revision, a.import_id) == ({"label": "neg"}, 2, done.import_id)
        assert s.scalar(select(func.count()).select_from(AnnotationRevision)) == 2
        assert s.scalar(select(Task.taken).where(Task.id == a.task_id)) == 1
    clean_queue(db)


def test_every_problem_names_the_row_and_the_field_and_nothing_is_written(db, lab):
    owner, pid, alice = lab
    rows = [
        {"external_id": "t0", "annotator": "ok", "value": {"label": "pos"}},  # fine
        {"external_id": "nope", "annotator": "w", "value": {"label": "pos"}},
        {"task_id": "abc", "annotator": "w", "value": {"label": "pos"}},
        {"external_id": "t1", "annotator": "", "value": {"label": "pos"}},
        {"external_id": "t1", "annotator": "w", "value": {"label": "maybe"}},
        {"external_id": "t1", "annotator": "w", "value": {"label": "pos", "stars": 9}},
        {"external_id": "t1", "annotator": "w", "value": {}},
        {"external_id": "t2", "annotator": "w", "value": {"label": "pos"}, "created_at": "May 1"},
        {"external_id": "t2", "annotator": "w", "value": {"label": "pos"}, "lead_time_ms": -5},
        {"external_id": "t2", "annotator": "w", "value": {"label": "pos"}, "colour": "red"},
        {"external_id": "t3", "task_id": 1, "annotator": "w", "value": {"label": "pos"}},
        {"external_id": "t0", "annotator": "ok", "value": {"label": "pos"}},  # repeats row 1
        "not an object",
    ]
    result = run(db, owner, pid, rows)
    assert not result.ok
    got = [(p.field, p.problem.split(":")[0]) for p in result.problems]
    assert got == [
        ("row 2", "external_id"),
        ("row 3", "task_id"),
        ("row 4", "annotator"),
        ("row 5", "value.label"),
        ("row 6", "value.stars"),
        ("row 7", "value.label"),
        ("row 8", "created_at"),
        ("row 9", "lead_time_ms"),
        ("row 10", "unknown key(s) colour; a row may have"),
        ("row 11", "task_id"),
        ("row 12", "annotator"),
        ("row 13", "expected an object with external_id, task_id, annotator, value, got str"),
    ]
    assert "unknown option 'maybe'" in result.problems[3].problem
    assert "row 1" in result.problems[10].problem
    with pytest.raises(InvalidInput, match=r"Nothing was imported: f.jsonl, row 2: external_id"):
        result.raise_for_problems("f.jsonl")
    with db.read_session() as s:  # atomic: not even row 1, nor its external annotator
        for table in (Annotation, ExternalAnnotator, AnnotationImport, Assignment):
            assert s.scalar(select(func.count()).select_from(table)) == 0
    del alice


def test_more_answers_than_the_overlap_are_refused_with_the_overlap_needed(db, lab):
    owner, pid, alice = lab  # overlap 3
    rows = [
        {"external_id": "t0", "annotator": f"w{i}", "value": {"label": "pos"}} for i in range(5)
    ] + [{"external_id": "t1", "annotator": f"w{i}", "value": {"label": "neg"}} for i in range(4)]
    with db.session() as s:  # alice holds a live lease on t0: one of its slots
        assert queue.claim_next(s, alice.actor, pid).task.external_id == "t0"
    result = run(db, owner, pid, rows)
    assert [p.field for p in result.problems] == ["row 3", "row 9"]
    assert (
        "task 't0' would hold 6 answers for the project's overlap of 3"
        in result.problems[0].problem
    )
    assert "raise the overlap to at least 6" in result.problems[0].problem
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"overlap": 6})
    assert run(db, owner, pid, rows).imported == 9
    clean_queue(db)


def test_the_queue_counts_imported_answers_toward_overlap(db):
    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    bob = add_member(db, owner)
    rows = [
        {"external_id": "t0", "annotator": f"w{i}", "value": {"label": "pos"}} for i in range(2)
    ] + [{"external_id": "t1", "annotator": "w0", "value": {"label": "neg"}}]
    run(db, owner, pid, rows)
    with db.session() as s:
        lease = queue.claim_next(s, bob.actor, pid)
        assert lease.task.external_id == "t1"  # t0 is full with the imported answers
    carol = add_member(db, owner)
    with db.session() as s:
        assert queue.claim_next(s, carol.actor, pid) is None  # t1: w0 and bob's lease
    clean_queue(db)


def test_an_imported_answer_closes_the_members_live_lease(db, lab):
    owner, pid, alice = lab
    with db.session() as s:
        task = queue.claim_next(s, alice.actor, pid).task
    row = {"task_id": task.id, "annotator": alice.email, "value": {"label": "pos"}}
    assert run(db, owner, pid, [row]).imported == 1
    with db.read_session() as s:
        assert s.scalar(select(Task.taken).where(Task.id == task.id)) == 1
        assert s.scalar(select(Assignment.status)) == "submitted"
    clean_queue(db)


def test_external_annotators_never_sign_in_nor_become_members(db, lab, client):
    owner, pid, _ = lab
    run(db, owner, pid, [{"external_id": "t0", "annotator": "vendor-x", "value": {"label": "pos"}}])
    with db.read_session() as s:
        user = s.scalar(select(User).where(User.name == "vendor-x"))
        assert (user.is_active, user.password_hash) == (False, None)
        email = user.email
        assert s.scalar(select(func.count()).where(Membership.user_id == user.id)) == 0
        with pytest.raises(NotAuthenticated):
            accounts.actor_for(s, user_id=user.id, organization_id=owner.organization_id)
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(s, email=user.email, password="")
    r = client.post("/api/auth/login", json={"email": email, "password": "x" * 12})
    assert r.status_code == 401
    from labelhouse.people import project_members

    with db.session() as s, pytest.raises(InvalidInput, match="not members"):
        project_members.add_people(s, owner.actor, pid, emails=[email], role="annotator")


def test_external_annotators_belong_to_one_organization(db, lab):
    owner, pid, _ = lab
    other = make_org(db, "Other")
    other_pid = make_project(db, other, RATED)
    add_tasks(db, other, other_pid, text_rows(1))
    row = {"external_id": "t0", "annotator": "w1", "value": {"label": "pos"}}
    assert run(db, owner, pid, [row]).external_annotators_created == 1
    assert run(db, other, other_pid, [row]).external_annotators_created == 1
    with db.read_session() as s:
        assert s.scalar(select(func.count(func.distinct(Annotation.user_id)))) == 2


def test_annotators_may_not_import_and_other_projects_are_missing(db, lab):
    _owner, pid, alice = lab
    with db.session() as s, pytest.raises(PermissionDenied):
        import_annotations(s, alice.actor, pid, [])
    other = make_org(db, "Other")
    from labelhouse.errors import NotFound

    with db.session() as s, pytest.raises(NotFound):
        import_annotations(s, other.actor, pid, [])


def test_csv_cells_are_read_the_way_each_field_takes_them(db, lab):
    owner, pid, _ = lab
    data = (
        b"external_id,annotator,label,stars,lead_time_ms,created_at\n"
        b"t0,w1,1,4,1500,2024-01-02T03:04:05\n"
        b"t1,w1,pos,,,\n"
    )
    with db.session() as s:
        result = import_file(s, owner.actor, pid, io.BytesIO(data), filename="a.csv")
    assert result.ok, result.problems
    stored = {e: v for e, _, v, _ in answers(db, pid)}
    assert stored == {"t0": {"label": "1", "stars": 4}, "t1": {"label": "pos"}}


def test_csv_problems_name_the_line(db, lab):
    owner, pid, _ = lab
    data = b"external_id,annotator,label,stars\nt0,w1,pos,4\nt1,w1,pos,six\n"
    with db.session() as s:
        result = import_file(s, owner.actor, pid, io.BytesIO(data), filename="a.csv")
    assert [(p.field, p.problem[:11]) for p in result.problems] == [("line 3", "value.stars")]
    bad_header = b"external_id,annotator,colour\nt0,w1,red\n"
    with db.session() as s:
        result = import_file(s, owner.actor, pid, io.BytesIO(bad_header), filename="b.csv")
    assert result.problems[0].field == "line 1"
    assert "colour" in result.problems[0].problem


def test_long_format_needs_one_choice_or_rating_field_or_a_name(db, lab):
    owner, pid, _ = lab
    data = b"item\tworker\tlabel\nt0\tw1\tpos\nt0\tw2\tneg\nt1\tw1\t1\n"
    with db.session() as s, pytest.raises(InvalidInput, match="exactly one choice or rating"):
        import_file(s, owner.actor, pid, io.BytesIO(data), filename="c.tsv", file_format="long")
    with db.session() as s:
        result = import_file(
            s,
            owner.actor,
            pid,
            io.BytesIO(data),
            filename="c.tsv",
            file_format="long",
            field_name="label",
        )
    assert (result.imported, result.external_annotators_created) == (3, 2)
    stored = [(e, v) for e, _, v, _ in answers(db, pid)]
    assert ("t1", {"label": "1"}) in stored


def test_jsonl_file_with_a_workforce_for_new_external_annotators(db, lab):
    owner, pid, _ = lab
    from labelhouse.people import teams, workforces

    with db.session() as s:
        team_id = teams.create_team(s, owner.actor, name="Acme").id
        workforces.update_workforce(s, owner.actor, team_id, kind="vendor")
    data = b'{"external_id": "t0", "annotator": "acme-1", "value": {"label": "pos"}}\n'
    with db.session() as s:
        result = import_file(
            s, owner.actor, pid, io.BytesIO(data), filename="d.jsonl", workforce="Acme"
        )
    assert result.imported == 1
    with db.read_session() as s:
        assert s.scalar(select(ExternalAnnotator.workforce_id)) == team_id
        assert s.scalar(select(Assignment.workforce_id)) == team_id
    with db.session() as s, pytest.raises(InvalidInput, match="no workforce 'Nobody'"):
        import_file(s, owner.actor, pid, io.BytesIO(data), filename="d.jsonl", workforce="Nobody")
    clean_queue(db)


def test_a_workforce_route_quota_holds_for_imported_answers(db):
    from labelhouse.tasks.routing import Slot
    from tests.tasks.test_routing import route, routes, workforce

    owner = make_org(db)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    team_id, _ = workforce(db, owner, pid, "Acme", people=1)
    other, _ = workforce(db, owner, pid, "Beta", people=1)
    route(db, owner, pid, "each", [Slot(team_id, quota=1), Slot(other, quota=1)])
    two = [
        {"external_id": "t0", "annotator": f"acme-{i}", "value": {"label": "pos"}} for i in (1, 2)
    ]
    with db.session() as s:
        from labelhouse.annotations.imports import import_located

        refused = import_located(
            s,
            owner.actor,
            pid,
            [(f"line {i}", r) for i, r in enumerate(two, 1)],
            source="test",
            filename=None,
            workforce="Acme",
        )
    assert [p.field for p in refused.problems] == ["line 1"]
    assert f"routed to workforce {team_id} with a quota of 1" in refused.problems[0].problem
    with db.session() as s:
        done = import_located(
            s,
            owner.actor,
            pid,
            [("line 1", two[0])],
            source="test",
            filename=None,
            workforce="Acme",
        )
    assert done.imported == 1
    assert (team_id, 1, 1) in {(wf, quota, taken) for _, wf, quota, taken in routes(db, pid)}
    clean_queue(db)


def test_a_draft_is_never_replaced_by_an_import(db, lab):
    owner, pid, alice = lab
    from labelhouse.annotations import service as annotations

    with db.session() as s:
        task = queue.claim_next(s, alice.actor, pid).task
        annotations.save(s, alice.actor, task.id, value={"label": "pos"}, draft=True)
    row = {"task_id": task.id, "annotator": alice.email, "value": {"label": "pos"}}
    result = run(db, owner, pid, [row])
    assert "has a draft" in result.problems[0].problem
