"""Submitting, drafting and updating annotations over the API, with revision history, lead
time, lease expiry and overlap accounting. Real databases; every check reads them back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from labelhouse.accounts.models import Role
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.annotations.service import MAX_LEAD_TIME_MS
from labelhouse.db.base import utcnow
from labelhouse.tasks.models import Assignment, Task
from tests.factories import add_member, add_tasks, login, make_org, make_project, text_rows
from tests.helpers_data import (
    BOXES_SCHEMA,
    MULTI_SCHEMA,
    MULTI_TASK,
    count_rows,
    detached,
    error_of,
    jsonl_bytes,
    png_bytes,
)


@pytest.fixture
def project(db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(3))
    return pid


def next_task(client, project_id):
    r = client.post(f"/api/projects/{project_id}/next")
    assert r.status_code == 200, r.text
    return r.json()["task"]


def submit(client, task_id, value, **extra):
    return client.post(f"/api/tasks/{task_id}/annotations", json={"value": value, **extra})


def task_row(db, task_id) -> Task:
    [task] = detached(db, select(Task).where(Task.id == task_id))
    return task


def assignments(db, task_id) -> list[Assignment]:
    return detached(
        db, select(Assignment).where(Assignment.task_id == task_id).order_by(Assignment.id)
    )


def annotations_in(db, task_id=None) -> list[Annotation]:
    query = select(Annotation).order_by(Annotation.id)
    if task_id is not None:
        query = query.where(Annotation.task_id == task_id)
    return detached(db, query)


def expire_lease(db, task_id, user_id):
    with db.session() as s:
        s.execute(
            update(Assignment)
            .where(Assignment.task_id == task_id, Assignment.user_id == user_id)
            .values(expires_at=utcnow() - timedelta(minutes=5))
        )


def assert_invalid(r, fields):
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert all(set(d) == {"field", "problem"} for d in err["details"])
    assert [d["field"] for d in err["details"]] == fields
    return {d["field"]: d["problem"] for d in err["details"]}


# -- submitting --------------------------------------------------------------------------------


def test_submit_stores_the_annotation_and_completes_the_assignment(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    r = submit(c, task["id"], {"label": "pos"}, lead_time_ms=1234)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] is True
    assert (body["task_id"], body["annotator_id"], body["status"]) == (
        task["id"],
        annotator.actor.user_id,
        "submitted",
    )
    assert (body["value"], body["schema_version"], body["revision"], body["lead_time_ms"]) == (
        {"label": "pos"},
        1,
        1,
        1234,
    )
    [stored] = annotations_in(db)
    assert (stored.id, stored.value, stored.status, stored.user_id) == (
        body["id"],
        {"label": "pos"},
        "submitted",
        annotator.actor.user_id,
    )
    [assignment] = assignments(db, task["id"])
    assert assignment.status == "submitted" and assignment.finished_at is not None
    row = task_row(db, task["id"])
    assert (row.done, row.taken, row.is_open) == (1, 1, False)
    assert count_rows(db, AnnotationRevision) == 1


def test_the_next_task_after_a_submit_is_a_different_one(app, db, project, annotator):
    c = login(app, annotator)
    first = next_task(c, project)
    assert next_task(c, project)["id"] == first["id"]  # the lease is held until submitted
    submit(c, first["id"], {"label": "neg"})
    assert next_task(c, project)["id"] != first["id"]


def test_annotations_work_with_api_tokens(app, db, project, owner):
    from tests.factories import token_client

    c = token_client(app, db, owner)
    task = next_task(c, project)
    assert submit(c, task["id"], {"label": "neu"}).status_code == 200
    assert annotations_in(db)[0].value == {"label": "neu"}


# -- invalid values ----------------------------------------------------------------------------


@pytest.fixture
def multi(db, owner):
    pid = make_project(db, owner, schema=MULTI_SCHEMA)
    add_tasks(db, owner, pid, [MULTI_TASK])
    return pid


GOOD_MULTI = {
    "label": "pos",
    "tags": ["c", "a"],
    "entities": [{"start": 15, "end": 20, "label": "LOC"}, {"start": 0, "end": 3, "label": "PER"}],
    "note": "fine",
    "quality": 4.0,
    "preference": {"choice": "B", "strength": None},
    "order": [2, 1],
}


def test_a_valid_value_of_every_kind_is_normalised(app, db, multi, annotator):
    c = login(app, annotator)
    task = next_task(c, multi)
    r = submit(c, task["id"], GOOD_MULTI)
    assert r.status_code == 200, r.text
    expected = {
        "label": "pos",
        "tags": ["a", "c"],  # schema order
        "entities": [  # sorted, with the text recomputed from the task
            {"start": 0, "end": 3, "label": "PER", "text": "Ada"},
            {"start": 15, "end": 20, "label": "LOC", "text": "Paris"},
        ],
        "note": "fine",
        "quality": 4,
        "preference": {"choice": "B", "strength": None},
        "order": [2, 1],
    }
    assert r.json()["value"] == expected
    assert annotations_in(db)[0].value == expected


def test_invalid_values_of_several_kinds_are_all_reported_and_nothing_is_stored(
    app, db, multi, annotator
):
    c = login(app, annotator)
    task = next_task(c, multi)
    bad = {
        "label": "maybe",
        "tags": ["a", "a"],
        "entities": [{"start": 0, "end": 99, "label": "PER"}],
        "note": "x" * 21,
        "quality": 6,
        "preference": {"choice": "C"},
        "order": [1, 1],
    }
    problems = assert_invalid(
        submit(c, task["id"], bad),
        ["label", "tags[1]", "entities[0].end", "note", "quality", "preference.choice", "order[1]"],
    )
    assert "unknown option 'maybe'" in problems["label"]
    assert "selected twice" in problems["tags[1]"]
    assert "past the end of the text (20 characters)" in problems["entities[0].end"]
    assert "too long" in problems["note"]
    assert "outside the scale" in problems["quality"]
    assert "choice must be one of" in problems["preference.choice"]
    assert "does not allow ties" in problems["order[1]"]
    assert annotations_in(db) == []
    assert count_rows(db, AnnotationRevision) == 0
    row = task_row(db, task["id"])
    assert (row.done, row.taken) == (0, 1)
    assert assignments(db, task["id"])[0].status == "leased"


@pytest.mark.parametrize(
    ("value", "field", "problem"),
    [
        ({"label": 5}, "label", "expected a string, got 5"),
        ({"label": ["pos"]}, "label", "expected a string, got a list"),
        ({"label": "pos", "tags": "a"}, "tags", "expected a list of option values"),
        ({"label": "pos", "entities": "Ada"}, "entities", "expected a list of spans"),
        ({"label": "pos", "entities": [[0, 3]]}, "entities[0]", "expected a span object"),
        (
            {"label": "pos", "entities": [{"start": "0", "end": 3, "label": "PER"}]},
            "entities[0].start",
            "whole-number",
        ),
        ({"label": "pos", "note": 7}, "note", "expected text (a string), got 7"),
        ({"label": "pos", "quality": "5"}, "quality", "expected a whole number from 1 to 5"),
        ({"label": "pos", "quality": 3.5}, "quality", "got 3.5"),
        ({"label": "pos", "quality": True}, "quality", "got true"),
        ({"label": "pos", "preference": "A"}, "preference", "expected an object"),
        ({"label": "pos", "order": {"a": 1}}, "order", "expected a list of 2 ranks"),
        ({"label": "pos", "order": [1, 2, 3]}, "order", "expected 2 ranks"),
    ],
)
def test_wrong_types_are_422_naming_the_field(app, db, multi, annotator, value, field, problem):
    c = login(app, annotator)
    task = next_task(c, multi)
    problems = assert_invalid(submit(c, task["id"], value), [field])
    assert problem in problems[field]
    assert annotations_in(db) == []


def test_unknown_labels_are_rejected(app, db, multi, annotator):
    c = login(app, annotator)
    task = next_task(c, multi)
    value = {
        "label": "pos",
        "tags": ["d"],
        "entities": [{"start": 0, "end": 3, "label": "ORG"}],
    }
    problems = assert_invalid(submit(c, task["id"], value), ["tags[0]", "entities[0].label"])
    assert "unknown option 'd'" in problems["tags[0]"]
    assert "unknown label 'ORG'; use one of: 'PER', 'LOC'" in problems["entities[0].label"]


def test_unknown_field_names_are_rejected(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    problems = assert_invalid(
        submit(c, task["id"], {"label": "pos", "sentiment": "pos", "extra": 1}),
        ["sentiment", "extra"],
    )
    assert "unknown field; the schema has: label" in problems["sentiment"]
    assert annotations_in(db) == []


def test_a_missing_required_field_is_rejected(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    assert assert_invalid(submit(c, task["id"], {}), ["label"]) == {"label": "required"}
    assert assert_invalid(submit(c, task["id"], {"label": ""}), ["label"]) == {"label": "required"}
    assert annotations_in(db) == []


@pytest.mark.parametrize(
    "body",
    [
        {"value": ["pos"]},
        {"value": "pos"},
        {"value": {"label": "pos"}, "unexpected": True},
        {"draft": False},
        {"value": {"label": "pos"}, "draft": "maybe"},
    ],
)
def test_malformed_request_bodies_are_422(app, db, project, annotator, body):
    c = login(app, annotator)
    task = next_task(c, project)
    r = c.post(f"/api/tasks/{task['id']}/annotations", json=body)
    assert r.status_code == 422
    assert error_of(r)["code"] == "invalid_input"
    assert annotations_in(db) == []


def test_malformed_json_is_422(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    r = c.post(
        f"/api/tasks/{task['id']}/annotations",
        content=b'{"value": {"label": ',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert "malformed JSON" in error_of(r)["details"][0]["problem"]


# -- spans -------------------------------------------------------------------------------------


def spans_project(db, owner, **config):
    schema = {
        "fields": [
            {
                "name": "ents",
                "kind": "spans",
                "labels": [{"value": "PER"}, {"value": "LOC"}],
                **config,
            }
        ]
    }
    pid = make_project(db, owner, schema=schema)
    add_tasks(db, owner, pid, [{"text": "Ada met Bob in Paris"}])
    return pid


@pytest.mark.parametrize(
    ("spans", "field", "problem"),
    [
        ([{"start": -1, "end": 3, "label": "PER"}], "ents[0].start", "0 or more"),
        ([{"start": 15, "end": 21, "label": "LOC"}], "ents[0].end", "past the end of the text"),
        ([{"start": 5, "end": 5, "label": "LOC"}], "ents[0].end", "must be less than end"),
        ([{"start": 7, "end": 3, "label": "LOC"}], "ents[0].end", "must be less than end"),
        (
            [{"start": 0, "end": 3, "label": "PER"}, {"start": 2, "end": 6, "label": "LOC"}],
            "ents[1]",
            "overlaps span [0, 3) 'PER' \"Ada\"",
        ),
        (
            [{"start": 0, "end": 3, "label": "PER"}, {"start": 0, "end": 3, "label": "PER"}],
            "ents[1]",
            "given twice",
        ),
        ([{"start": 0, "end": 3}], "ents[0].label", "missing 'label'"),
        ([{"start": 0, "end": 3, "label": "PER", "score": 1}], "ents[0]", "unknown key 'score'"),
    ],
)
def test_bad_spans_are_rejected(app, db, owner, annotator, spans, field, problem):
    pid = spans_project(db, owner)
    c = login(app, annotator)
    task = next_task(c, pid)
    problems = assert_invalid(submit(c, task["id"], {"ents": spans}), [field])
    assert problem in problems[field]
    assert annotations_in(db) == []


def test_overlapping_spans_are_fine_where_the_schema_allows_them(app, db, owner, annotator):
    pid = spans_project(db, owner, allow_overlap=True)
    c = login(app, annotator)
    task = next_task(c, pid)
    spans = [{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 7, "label": "LOC"}]
    r = submit(c, task["id"], {"ents": spans})
    assert r.status_code == 200, r.text
    assert [s["text"] for s in r.json()["value"]["ents"]] == ["Ada met", "met"]


def test_client_supplied_span_text_is_replaced(app, db, owner, annotator):
    pid = spans_project(db, owner)
    c = login(app, annotator)
    task = next_task(c, pid)
    r = submit(c, task["id"], {"ents": [{"start": 8, "end": 11, "label": "PER", "text": "Eve"}]})
    assert r.json()["value"]["ents"][0]["text"] == "Bob"


def test_an_empty_span_list_is_a_real_answer(app, db, owner, annotator):
    pid = spans_project(db, owner)
    c = login(app, annotator)
    task = next_task(c, pid)
    r = submit(c, task["id"], {"ents": []})
    assert r.status_code == 200
    assert annotations_in(db)[0].value == {"ents": []}


# -- boxes -------------------------------------------------------------------------------------


@pytest.fixture
def boxes(app, db, owner):
    from tests.factories import token_client

    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    c = token_client(app, db, owner)
    r = c.post(
        f"/api/projects/{pid}/files", files=[("files", ("cat.png", png_bytes(40, 30), "image/png"))]
    )
    assert r.status_code == 201, r.text
    r = c.post(
        f"/api/projects/{pid}/import?format=jsonl", content=jsonl_bytes([{"image": "cat.png"}])
    )
    assert r.status_code == 200, r.text
    return pid


def box(**kw):
    return {"x": 1, "y": 2, "width": 10, "height": 10, "label": "cat"} | kw


def test_boxes_inside_the_image_are_accepted(app, db, boxes, annotator):
    c = login(app, annotator)
    task = next_task(c, boxes)
    assert task["data"]["image_width"] == 40
    assert task["media"]["cat.png"].startswith("/api/files/")
    r = submit(c, task["id"], {"objects": [box(x=0, y=0, width=40, height=30)]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("boxes_value", "field", "problem"),
    [
        ([box(x=35, width=10)], "objects[0]", "right edge of the 40x30 px image"),
        ([box(y=25, height=10)], "objects[0]", "bottom edge of the 40x30 px image"),
        ([box(), box(x=-1)], "objects[1].x", "0 or more"),
        ([box(width=0.5)], "objects[0].width", "at least 1 px"),
        ([box(label="bird")], "objects[0].label", "unknown label 'bird'"),
        ([box(x="1")], "objects[0].x", "finite number"),
        ([{"x": 1, "y": 1, "w": 2, "h": 2, "label": "cat"}], "objects[0]", "unknown key 'w'"),
        ({"x": 1}, "objects", "expected a list of boxes"),
    ],
)
def test_bad_boxes_are_rejected(app, db, boxes, annotator, boxes_value, field, problem):
    c = login(app, annotator)
    task = next_task(c, boxes)
    problems = assert_invalid(submit(c, task["id"], {"objects": boxes_value}), [field])
    assert problem in problems[field]
    assert annotations_in(db) == []


# -- drafts -----------------------------------------------------------------------------------


def test_a_draft_may_omit_required_fields_and_does_not_complete_the_task(
    app, db, project, annotator
):
    c = login(app, annotator)
    task = next_task(c, project)
    r = submit(c, task["id"], {}, draft=True)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["value"], r.json()["created"]) == ("draft", {}, True)
    row = task_row(db, task["id"])
    assert (row.done, row.taken) == (0, 1)
    assert assignments(db, task["id"])[0].status == "leased"


def test_a_draft_still_validates_what_it_contains(app, db, multi, annotator):
    c = login(app, annotator)
    task = next_task(c, multi)
    assert_invalid(submit(c, task["id"], {"quality": 9}, draft=True), ["quality"])
    assert annotations_in(db) == []


def test_a_draft_keeps_the_lease_alive(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    soon = utcnow() + timedelta(seconds=5)
    with db.session() as s:
        s.execute(
            update(Assignment).where(Assignment.task_id == task["id"]).values(expires_at=soon)
        )
    assert submit(c, task["id"], {"label": "pos"}, draft=True).status_code == 200
    [assignment] = assignments(db, task["id"])
    assert assignment.expires_at > soon + timedelta(minutes=8)  # renewed to a full lease (10 min)


def test_a_draft_without_a_lease_is_refused(app, db, owner, project):
    reviewer = add_member(db, owner, Role.reviewer)
    c = login(app, reviewer)
    task_id = detached(db, select(Task.id).where(Task.project_id == project).limit(1))[0]
    r = submit(c, task_id, {"label": "pos"}, draft=True)
    assert r.status_code == 404
    assert "no lease" in error_of(r)["message"]
    assert annotations_in(db) == []


def test_drafts_then_submit_keeps_one_annotation_with_history(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {}, draft=True, lead_time_ms=100).json()
    second = submit(c, task["id"], {"label": "neg"}, draft=True, lead_time_ms=200).json()
    final = submit(c, task["id"], {"label": "pos"}, lead_time_ms=300).json()
    assert first["id"] == second["id"] == final["id"]
    assert (second["created"], final["created"]) == (False, False)
    assert (final["status"], final["revision"], final["lead_time_ms"]) == ("submitted", 3, 600)
    history = c.get(f"/api/annotations/{final['id']}/history").json()["items"]
    assert [(h["revision"], h["status"], h["value"]) for h in history] == [
        (1, "draft", {}),
        (2, "draft", {"label": "neg"}),
        (3, "submitted", {"label": "pos"}),
    ]
    assert task_row(db, task["id"]).done == 1
    assert assignments(db, task["id"])[0].status == "submitted"


def test_a_draft_cannot_overwrite_a_submitted_annotation(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    submitted = submit(c, task["id"], {"label": "pos"}).json()
    r = submit(c, task["id"], {"label": "neg"}, draft=True)
    assert r.status_code == 409
    assert error_of(r)["code"] == "conflict"
    [stored] = annotations_in(db)
    assert (stored.status, stored.value, stored.revision) == ("submitted", {"label": "pos"}, 1)
    assert len(c.get(f"/api/annotations/{submitted['id']}/history").json()["items"]) == 1


# -- updates and history ----------------------------------------------------------------------


def test_updating_an_annotation_keeps_every_revision_in_order(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    ids = set()
    for label in ("pos", "neg", "neu", "pos"):
        r = submit(c, task["id"], {"label": label})
        assert r.status_code == 200, r.text
        ids.add(r.json()["id"])
    assert len(ids) == 1
    annotation_id = ids.pop()
    history = c.get(f"/api/annotations/{annotation_id}/history").json()["items"]
    assert [h["revision"] for h in history] == [1, 2, 3, 4]
    assert [h["value"]["label"] for h in history] == ["pos", "neg", "neu", "pos"]
    assert all(h["status"] == "submitted" and h["schema_version"] == 1 for h in history)
    stamps = [h["created_at"] for h in history]
    assert stamps == sorted(stamps)
    [stored] = annotations_in(db)
    assert (stored.revision, stored.value) == (4, {"label": "pos"})
    row = task_row(db, task["id"])
    assert (row.done, row.taken) == (1, 1)  # updates do not count again
    assert count_rows(db, AnnotationRevision) == 4


def test_an_update_after_a_schema_change_records_the_new_version(
    app, db, owner, project, annotator
):
    from tests.factories import CHOICE_SCHEMA, token_client

    c = login(app, annotator)
    task = next_task(c, project)
    first = submit(c, task["id"], {"label": "pos"}).json()
    schema = {"fields": [dict(CHOICE_SCHEMA["fields"][0], title="Sentiment")]}
    r = token_client(app, db, owner).put(f"/api/projects/{project}/schema", json={"schema": schema})
    assert r.json()["version"] == 2
    second = submit(c, task["id"], {"label": "neg"}).json()
    assert (first["schema_version"], second["schema_version"]) == (1, 2)
    history = c.get(f"/api/annotations/{first['id']}/history").json()["items"]
    assert [h["schema_version"] for h in history] == [1, 2]


def test_history_is_private_to_the_annotator_but_visible_to_reviewers(app, db, owner, project):
    a, b = add_member(db, owner), add_member(db, owner)
    ca = login(app, a)
    task = next_task(ca, project)
    annotation_id = submit(ca, task["id"], {"label": "pos"}).json()["id"]
    assert login(app, b).get(f"/api/annotations/{annotation_id}/history").status_code == 404
    reviewer = login(app, add_member(db, owner, Role.reviewer))
    assert len(reviewer.get(f"/api/annotations/{annotation_id}/history").json()["items"]) == 1
    stranger = login(app, make_org(db, "Other"))
    assert stranger.get(f"/api/annotations/{annotation_id}/history").status_code == 404
    assert ca.get("/api/annotations/999999/history").status_code == 404


def test_annotators_see_only_their_own_annotations(app, db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(1))
    a, b = add_member(db, owner), add_member(db, owner)
    ca, cb = login(app, a), login(app, b)
    task = next_task(ca, pid)
    assert next_task(cb, pid)["id"] == task["id"]
    submit(ca, task["id"], {"label": "pos"})
    submit(cb, task["id"], {"label": "neg"})
    mine = ca.get(f"/api/tasks/{task['id']}/annotations").json()["items"]
    assert [x["value"] for x in mine] == [{"label": "pos"}]
    reviewer = login(app, add_member(db, owner, Role.reviewer))
    everyone = reviewer.get(f"/api/tasks/{task['id']}/annotations").json()["items"]
    assert sorted(x["value"]["label"] for x in everyone) == ["neg", "pos"]


# -- lead time ---------------------------------------------------------------------------------


def test_lead_time_is_accumulated_across_revisions(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    submit(c, task["id"], {"label": "pos"}, lead_time_ms=1500)
    submit(c, task["id"], {"label": "neg"}, lead_time_ms=2500.7)
    last = submit(c, task["id"], {"label": "neu"}).json()  # no lead time: counts as 0
    assert last["lead_time_ms"] == 4000
    history = c.get(f"/api/annotations/{last['id']}/history").json()["items"]
    assert [h["lead_time_ms"] for h in history] == [1500, 2500, 0]
    assert annotations_in(db)[0].lead_time_ms == 4000


def test_lead_time_is_capped_at_a_day(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    r = submit(c, task["id"], {"label": "pos"}, lead_time_ms=10 * MAX_LEAD_TIME_MS)
    assert r.json()["lead_time_ms"] == MAX_LEAD_TIME_MS


@pytest.mark.parametrize("lead", [-1, -0.5, "fast", [1]])
def test_bad_lead_time_is_422_and_nothing_is_stored(app, db, project, annotator, lead):
    c = login(app, annotator)
    task = next_task(c, project)
    r = submit(c, task["id"], {"label": "pos"}, lead_time_ms=lead)
    assert r.status_code == 422
    assert [d["field"] for d in error_of(r)["details"]] == ["lead_time_ms"]
    assert annotations_in(db) == []
    assert task_row(db, task["id"]).done == 0


def test_negative_lead_time_is_refused_by_the_service_too(db, owner, project):
    from labelhouse.annotations.service import save
    from labelhouse.errors import InvalidInput

    task_id = detached(db, select(Task.id).where(Task.project_id == project).limit(1))[0]
    with pytest.raises(InvalidInput) as exc, db.session() as s:
        save(s, owner.actor, task_id, value={"label": "pos"}, lead_time_ms=-5)
    assert exc.value.details[0].field == "lead_time_ms"
    assert annotations_in(db) == []


# -- leases, late submits and overlap ---------------------------------------------------------


def test_a_late_submit_after_someone_took_the_last_slot_is_409(app, db, owner):
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(1))
    a, b = add_member(db, owner), add_member(db, owner)
    ca, cb = login(app, a), login(app, b)
    task = next_task(ca, pid)
    expire_lease(db, task["id"], a.actor.user_id)
    assert next_task(cb, pid)["id"] == task["id"]  # reclaims the expired slot

    r = submit(ca, task["id"], {"label": "pos"}, lead_time_ms=10)
    assert r.status_code == 409
    assert error_of(r)["code"] == "conflict"
    assert "expired" in error_of(r)["message"]
    assert annotations_in(db) == []
    assert count_rows(db, AnnotationRevision) == 0
    row = task_row(db, task["id"])
    assert (row.taken, row.done) == (1, 0)
    by_user = {x.user_id: x.status for x in assignments(db, task["id"])}
    assert by_user == {a.actor.user_id: "expired", b.actor.user_id: "leased"}

    assert submit(cb, task["id"], {"label": "neg"}).status_code == 200
    row = task_row(db, task["id"])
    assert (row.taken, row.done) == (1, 1)


def test_a_late_submit_is_accepted_while_a_slot_is_free(app, db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(1))
    a, b = add_member(db, owner), add_member(db, owner)
    ca, cb = login(app, a), login(app, b)
    task = next_task(ca, pid)
    expire_lease(db, task["id"], a.actor.user_id)
    assert next_task(cb, pid)["id"] == task["id"]  # expires a's lease, takes one slot
    assert task_row(db, task["id"]).taken == 1

    r = submit(ca, task["id"], {"label": "pos"})
    assert r.status_code == 200, r.text
    row = task_row(db, task["id"])
    assert (row.taken, row.done, row.is_open) == (2, 1, False)
    statuses = {x.user_id: x.status for x in assignments(db, task["id"])}
    assert statuses[a.actor.user_id] == "submitted"


def test_an_expired_but_unreclaimed_lease_can_still_submit(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    expire_lease(db, task["id"], annotator.actor.user_id)
    assert submit(c, task["id"], {"label": "pos"}).status_code == 200
    row = task_row(db, task["id"])
    assert (row.taken, row.done) == (1, 1)


def test_submitting_without_a_lease_takes_a_free_slot(app, db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(1))
    task_id = detached(db, select(Task.id).where(Task.project_id == pid))[0]
    reviewer = login(app, add_member(db, owner, Role.reviewer))

    r = submit(reviewer, task_id, {"label": "pos"})
    assert r.status_code == 200, r.text
    row = task_row(db, task_id)
    assert (row.taken, row.done, row.is_open) == (1, 1, True)
    [assignment] = assignments(db, task_id)
    assert assignment.status == "submitted"

    ann = login(app, add_member(db, owner))
    assert next_task(ann, pid)["id"] == task_id  # the second slot
    late = login(app, add_member(db, owner))
    assert late.post(f"/api/projects/{pid}/next").json()["task"] is None  # overlap reached
    manager = login(app, add_member(db, owner, Role.manager))
    r = submit(manager, task_id, {"label": "neg"})
    assert r.status_code == 409  # both slots are taken: no over-assignment
    assert len(annotations_in(db)) == 1


def test_owner_submitting_without_a_lease_on_a_full_task_is_409(app, db, owner, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)  # overlap 1: the only slot
    r = submit(login(app, owner), task["id"], {"label": "pos"})
    assert r.status_code == 409
    assert annotations_in(db) == []


def test_annotators_cannot_reach_tasks_they_were_not_given(app, db, project, annotator):
    task_id = detached(db, select(Task.id).where(Task.project_id == project).limit(1))[0]
    c = login(app, annotator)
    r = submit(c, task_id, {"label": "pos"})
    assert r.status_code == 404
    assert c.get(f"/api/tasks/{task_id}").status_code == 404
    assert annotations_in(db) == []


def test_a_submit_after_skipping_takes_a_free_slot(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    assert c.post(f"/api/tasks/{task['id']}/skip", json={"reason": "unsure"}).status_code == 204
    assert task_row(db, task["id"]).taken == 0
    assert submit(c, task["id"], {"label": "neu"}).status_code == 200
    row = task_row(db, task["id"])
    assert (row.taken, row.done) == (1, 1)
    assert assignments(db, task["id"])[0].status == "submitted"


# -- task status --------------------------------------------------------------------------------


def test_task_status_moves_from_new_to_in_progress_to_done(app, db, owner):
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    manager = login(app, owner)
    a, b = login(app, add_member(db, owner)), login(app, add_member(db, owner))

    def state(task_id):
        t = manager.get(f"/api/tasks/{task_id}").json()
        return t["status"], t["annotations_done"]

    def listed(status):
        return [
            t["id"]
            for t in manager.get(f"/api/projects/{pid}/tasks?status={status}").json()["items"]
        ]

    task = next_task(a, pid)
    other = [i for i in listed("new")]
    assert len(other) == 1 and task["id"] not in other
    assert state(task["id"]) == ("in_progress", 0)
    submit(a, task["id"], {"label": "pos"})
    assert state(task["id"]) == ("in_progress", 1)
    assert task["id"] in listed("in_progress")
    assert next_task(b, pid)["id"] == task["id"]
    submit(b, task["id"], {"label": "neg"})
    assert state(task["id"]) == ("done", 2)
    assert listed("done") == [task["id"]]
    assert listed("new") == other
    assert state(other[0]) == ("new", 0)
    row = task_row(db, task["id"])
    assert (row.done, row.taken, row.is_open) == (2, 2, False)


def test_releasing_a_lease_returns_the_task_to_new(app, db, project, annotator):
    c = login(app, annotator)
    task = next_task(c, project)
    assert c.delete(f"/api/tasks/{task['id']}/lease").status_code == 204
    row = task_row(db, task["id"])
    assert (row.taken, row.is_open) == (0, True)
    assert assignments(db, task["id"]) == []


def test_a_submit_in_its_fewest_statements_writes_what_four_did(db, owner):
    """The common submit: a live lease closed and counted, a new annotation and its first
    revision. PostgreSQL does it in one statement (data-modifying WITH), SQLite in four;
    the rows are the same either way."""
    from sqlalchemy import event

    from labelhouse.annotations import service as annotations
    from labelhouse.tasks import queue

    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(2))
    member = add_member(db, owner)
    with db.session() as s:
        task_id = queue.claim_next(s, member.actor, pid).task.id
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        with db.session() as s:
            saved = annotations.save(
                s, member.actor, task_id, value={"label": "neg"}, lead_time_ms=700
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    writes = [q for q in seen if q.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))]
    assert len(writes) == (1 if db.dialect == "postgresql" else 4), writes
    with db.read_session() as s:
        task = s.get(Task, task_id)
        assert (task.done, task.taken) == (1, 1)
        lease = s.scalars(select(Assignment).where(Assignment.task_id == task_id)).one()
        assert lease.status == "submitted" and lease.finished_at is not None
        row = s.get(Annotation, saved.annotation.id)
        (revision,) = s.scalars(
            select(AnnotationRevision).where(AnnotationRevision.annotation_id == row.id)
        ).all()
        kept = ("revision", "status", "value", "schema_version", "lead_time_ms", "created_at")
        assert [getattr(revision, k) for k in kept] == [getattr(row, k) for k in kept]
        assert (row.revision, row.value, row.lead_time_ms) == (1, {"label": "neg"}, 700)
    with db.session() as s:  # no lease any more: the late path still counts nothing twice
        annotations.save(s, member.actor, task_id, value={"label": "pos"})
    with db.read_session() as s:
        assert s.get(Task, task_id).done == 1
        assert s.get(Annotation, saved.annotation.id).revision == 2
