"""Task browser filters (status, annotator, label value, text search) and keyset paging, on
SQLite and PostgreSQL: the JSON matching is the part whose SQL differs between them."""

from __future__ import annotations

import pytest

from labelhouse.annotations import service as annotations
from labelhouse.annotations.queries import TaskFilters, browse_tasks
from labelhouse.errors import InvalidInput
from labelhouse.tasks import queue
from tests.factories import add_member, add_tasks, login, make_org, make_project

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "pos"}, {"value": "neg"}, {"value": "neu"}],
        },
        {
            "name": "topics",
            "kind": "choices",
            "required": False,
            "options": [{"value": "price"}, {"value": "shipping"}, {"value": "support"}],
        },
        {
            "name": "ents",
            "kind": "spans",
            "source": "text",
            "required": False,
            "labels": [{"value": "PER"}, {"value": "LOC"}],
        },
        {"name": "score", "kind": "rating", "required": False, "min": 1, "max": 5},
    ]
}

ROWS = [
    {"external_id": "t0", "text": "Ada Lovelace lived in London."},
    {"external_id": "t1", "text": "The CAFÉ in Paris was café-quality, 50% off_peak."},
    {"external_id": "t2", "text": 'She said "hello" to nobody.'},
    {"external_id": "t3", "text": "Plain text about prices."},
    {"external_id": "t4", "text": "Nothing to see."},
]


def annotate(db, member, project_id, values, *, draft=None):
    """Lease tasks in id order: submit ``values[external_id]``, skip tasks without a value;
    on the ``draft`` task save a draft and stop there (its lease stays held)."""
    while True:
        with db.session() as s:
            lease = queue.claim_next(s, member.actor, project_id)
            if lease is None:
                return
            ext = lease.task.external_id
            if ext == draft:
                annotations.save(s, member.actor, lease.task.id, value=values[ext], draft=True)
                return
            if ext in values:
                annotations.save(s, member.actor, lease.task.id, value=values[ext])
            else:
                queue.skip(s, member.actor, lease.task.id)


@pytest.fixture
def project(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=SCHEMA, overlap=2)
    add_tasks(db, owner, pid, ROWS)
    ada, bob = add_member(db, owner), add_member(db, owner)
    annotate(
        db,
        ada,
        pid,
        {
            "t0": {
                "label": "pos",
                "ents": [{"start": 0, "end": 12, "label": "PER"}],
                "topics": ["support"],
                "score": 4,
            },
            "t1": {"label": "neg", "topics": ["price", "shipping"], "score": 2},
            "t2": {"label": "neu"},
            "t3": {"label": "pos"},
        },
        draft="t3",
    )
    annotate(
        db,
        bob,
        pid,
        {
            "t0": {"label": "neg", "ents": [{"start": 22, "end": 28, "label": "LOC"}]},
            "t2": {"label": "pos", "score": 4},
        },
    )
    return db, owner, pid, ada, bob


def ext_ids(db, owner, pid, **filters):
    with db.read_session() as s:
        page = browse_tasks(s, owner.actor, pid, TaskFilters(**filters), limit=100)
        return [t.external_id for t in page.items]


def test_no_filter_lists_everything_in_id_order(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid) == ["t0", "t1", "t2", "t3", "t4"]


def test_status_filter(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, status="done") == ["t0", "t2"]  # overlap 2 reached
    assert ext_ids(db, owner, pid, status="new") == ["t4"]
    assert ext_ids(db, owner, pid, status="in_progress") == ["t1", "t3"]


def test_annotator_filter_counts_submissions_only(project):
    db, owner, pid, ada, bob = project
    # t3 holds only Ada's draft, so it is not "annotated by" her
    assert ext_ids(db, owner, pid, annotator_id=ada.actor.user_id) == ["t0", "t1", "t2"]
    assert ext_ids(db, owner, pid, annotator_id=bob.actor.user_id) == ["t0", "t2"]


def test_value_is_matches_single_choice_exactly(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, field="label", value="pos") == ["t0", "t2"]  # not the draft
    assert ext_ids(db, owner, pid, field="label", value="po") == []  # whole values only
    assert ext_ids(db, owner, pid, field="label", value="neu") == ["t2"]


def test_value_is_matches_list_items_and_span_labels(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, field="topics", value="shipping") == ["t1"]
    assert ext_ids(db, owner, pid, field="topics", value="ship") == []
    assert ext_ids(db, owner, pid, field="ents", value="LOC") == ["t0"]
    assert ext_ids(db, owner, pid, field="ents", value="PER") == ["t0"]


def test_value_is_matches_numbers(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, field="score", value="4") == ["t0", "t2"]
    assert ext_ids(db, owner, pid, field="score", value="2") == ["t1"]


def test_value_contains_is_a_case_insensitive_substring(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, field="topics", value="SHIP", match="contains") == ["t1"]
    assert ext_ids(db, owner, pid, field="ents", value="lovelace", match="contains") == ["t0"]
    assert ext_ids(db, owner, pid, field="label", value="e", match="contains") == ["t0", "t1", "t2"]


def test_annotator_and_value_must_hold_for_the_same_annotation(project):
    db, owner, pid, ada, bob = project
    # Bob labelled t0 "neg" and t2 "pos"; Ada labelled t0 "pos".
    assert ext_ids(db, owner, pid, annotator_id=bob.actor.user_id, field="label", value="pos") == [
        "t2"
    ]
    assert ext_ids(db, owner, pid, annotator_id=ada.actor.user_id, field="label", value="neg") == [
        "t1"
    ]


def test_text_search_is_case_insensitive_and_literal(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, search="LONDON") == ["t0"]
    assert ext_ids(db, owner, pid, search="café") == ["t1"]  # non-ASCII (escaped on SQLite)
    assert ext_ids(db, owner, pid, search='"hello"') == ["t2"]  # quotes (escaped in JSON)
    assert ext_ids(db, owner, pid, search="50%") == ["t1"]
    assert ext_ids(db, owner, pid, search="%") == ["t1"]  # a literal %, not a wildcard
    assert ext_ids(db, owner, pid, search="v_l") == []  # a literal _, not "any character"
    assert ext_ids(db, owner, pid, search="off_peak") == ["t1"]


def test_filters_combine(project):
    db, owner, pid, *_ = project
    assert ext_ids(db, owner, pid, status="done", search="said", field="label", value="neu") == [
        "t2"
    ]
    assert ext_ids(db, owner, pid, status="new", field="label", value="pos") == []


def test_keyset_pages_with_a_filter(project):
    db, owner, pid, *_ = project
    seen, cursor = [], 0
    with db.read_session() as s:
        while True:
            page = browse_tasks(
                s, owner.actor, pid, TaskFilters(search="e"), after_id=cursor, limit=2
            )
            seen += [t.external_id for t in page.items]
            if page.next_cursor is None:
                break
            assert len(page.items) == 2
            cursor = page.next_cursor
    assert seen == ["t0", "t1", "t2", "t3", "t4"]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"field": "nope", "value": "x"}, "field"),
        ({"value": "x"}, "field"),
        ({"field": "label"}, "value"),
        ({"field": "label", "value": "x", "match": "regex"}, "match"),
        ({"status": "finished"}, "status"),
    ],
)
def test_bad_filters_say_what_to_use(project, filters, field):
    db, owner, pid, *_ = project
    with db.read_session() as s, pytest.raises(InvalidInput) as err:
        browse_tasks(s, owner.actor, pid, TaskFilters(**filters))
    assert err.value.details[0].field == field
    assert (
        "use one of" in err.value.details[0].problem or "required" in err.value.details[0].problem
    )


def test_annotators_filter_only_their_own_tasks_and_annotations(project):
    db, _, pid, ada, bob = project
    with db.read_session() as s:
        # Ada holds t0-t3 (t3 as a lease with her draft), never t4 (she stopped at t3).
        mine = [t.external_id for t in browse_tasks(s, ada.actor, pid, TaskFilters()).items]
        # Ada labelled t0 "pos" too, but Bob must not find tasks through her annotations.
        page = browse_tasks(s, bob.actor, pid, TaskFilters(field="label", value="pos"))
        bobs = [t.external_id for t in page.items]
    assert mine == ["t0", "t1", "t2", "t3"]
    assert bobs == ["t2"]


def test_api_list_tasks_accepts_the_filters(project, app):
    _, owner, pid, *_ = project
    client = login(app, owner)
    r = client.get(
        f"/api/projects/{pid}/tasks", params={"field": "topics", "value": "price", "limit": 1}
    )
    assert r.status_code == 200, r.text
    assert [t["external_id"] for t in r.json()["items"]] == ["t1"]
    r = client.get(f"/api/projects/{pid}/tasks", params={"q": "nobody"})
    assert [t["external_id"] for t in r.json()["items"]] == ["t2"]
    r = client.get(f"/api/projects/{pid}/tasks", params={"value": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "field"


def test_overview_figures(project):
    """The overview's grouped queries (per annotator, per UTC day) on both databases."""
    from datetime import UTC, datetime

    from labelhouse.annotations.stats import project_overview

    db, owner, pid, ada, bob = project
    with db.read_session() as s:
        view = project_overview(s, owner.actor, pid)
        stats = {a.email: (a.submitted, a.drafts) for a in view.annotators}
        assert stats == {ada.email: (3, 1), bob.email: (2, 0)}
        assert (view.progress.done, view.progress.in_progress, view.progress.remaining) == (2, 2, 1)
        assert len(view.per_day) == 30
        assert view.per_day[-1][0] == datetime.now(UTC).date()
        assert sum(n for _, n in view.per_day) == 5  # (all made just now: today, or at
        # midnight partly yesterday)
        assert len(view.recent) == 6  # drafts are activity too
        assert [e.event.action for e in view.events][-1] == "project.create"
