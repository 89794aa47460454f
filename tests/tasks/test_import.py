"""Task import through the service and through ``POST /api/projects/{id}/import``, plus media
uploads for image projects. Real databases; nothing of ours is mocked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from labelhouse.accounts.models import Role
from labelhouse.audit.models import AuditEvent
from labelhouse.errors import InvalidInput, PermissionDenied
from labelhouse.storage import LocalStorage
from labelhouse.tasks.importer import BATCH_SIZE, MAX_REPORTED_PROBLEMS, run_import
from labelhouse.tasks.models import Prediction, StoredFile, TaskImport
from labelhouse.tasks.service import safe_file_name, store_file
from labelhouse.web.app import create_app
from tests.factories import (
    CHOICE_SCHEMA,
    add_member,
    add_tasks,
    login,
    make_org,
    make_project,
    text_rows,
    token_client,
)
from tests.helpers_data import (
    BOXES_SCHEMA,
    count_rows,
    count_tasks,
    csv_bytes,
    detached,
    encode,
    error_of,
    imports_of,
    json_bytes,
    jsonl_bytes,
    parquet_bytes,
    png_bytes,
    predictions_of,
    tasks_of,
)

FORMATS = ["jsonl", "json", "csv", "parquet"]
ROWS = [
    {"external_id": "a", "text": "first", "lang": "en"},
    {"external_id": "b", "text": "second", "lang": "fr"},
    {"external_id": "c", "text": "third", "lang": "de"},
]


@pytest.fixture
def project(db, owner):
    return make_project(db, owner)


@pytest.fixture
def api(app, db, owner):
    return token_client(app, db, owner)


def service_import(db, owner, project_id, data: bytes, filename: str, **kwargs):
    """As the CLI and the API import: one transaction on PostgreSQL, staged on SQLite."""
    return run_import(db, owner.actor, project_id, io.BytesIO(data), filename=filename, **kwargs)


def post_raw(api, project_id, data: bytes, fmt: str | None = "jsonl", **params):
    if fmt is not None:
        params["format"] = fmt
    return api.post(f"/api/projects/{project_id}/import", params=params, content=data)


def post_file(api, project_id, data: bytes, filename: str, **params):
    return api.post(
        f"/api/projects/{project_id}/import",
        params=params,
        files={"file": (filename, data, "application/octet-stream")},
    )


def stored_data(db, project_id):
    return [(t.external_id, t.data) for t in tasks_of(db, project_id)]


EXPECTED = [
    ("a", {"text": "first", "lang": "en"}),
    ("b", {"text": "second", "lang": "fr"}),
    ("c", {"text": "third", "lang": "de"}),
]


# -- every format, every way in ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_imports_every_format(db, owner, project, fmt):
    result = service_import(db, owner, project, encode(ROWS, fmt), f"tasks.{fmt}")
    assert (result.file_format, result.rows, result.created) == (fmt, 3, 3)
    assert (result.duplicates, result.rejected) == (0, 0)
    assert stored_data(db, project) == EXPECTED
    [record] = imports_of(db, project)
    assert (record.filename, record.file_format, record.rows, record.created) == (
        f"tasks.{fmt}",
        fmt,
        3,
        3,
    )
    assert all(t.import_id == record.id for t in tasks_of(db, project))


@pytest.mark.parametrize("fmt", FORMATS)
def test_api_raw_body_with_format_parameter(db, api, project, fmt):
    r = post_raw(api, project, encode(ROWS, fmt), fmt)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["format"] == fmt
    assert (body["rows"], body["created"], body["duplicates"], body["rejected"]) == (3, 3, 0, 0)
    assert body["rejected_sample"] == []
    assert stored_data(db, project) == EXPECTED


@pytest.mark.parametrize("fmt", FORMATS)
def test_api_multipart_upload_guesses_the_format_from_the_file_name(db, api, project, fmt):
    r = post_file(api, project, encode(ROWS, fmt), f"my-tasks.{fmt}")
    assert r.status_code == 200, r.text
    assert r.json()["format"] == fmt
    assert stored_data(db, project) == EXPECTED
    assert imports_of(db, project)[0].filename == f"my-tasks.{fmt}"


def test_api_filename_parameter_guesses_the_format_of_a_raw_body(db, api, project):
    r = post_raw(api, project, encode(ROWS, "csv"), None, filename="export.csv")
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "csv"
    assert count_tasks(db, project) == 3


def test_api_raw_body_without_format_is_read_as_jsonl(db, api, project):
    r = post_raw(api, project, jsonl_bytes(ROWS), None)
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "jsonl"


def test_api_unknown_format_is_rejected(db, api, project):
    r = post_raw(api, project, jsonl_bytes(ROWS), "xml")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert err["details"][0]["field"] == "format"
    assert "unknown format 'xml'" in err["message"]
    assert count_tasks(db, project) == 0


def test_multipart_without_a_file_part_is_rejected(db, api, project):
    r = api.post(
        f"/api/projects/{project}/import", files={"other": ("x.jsonl", b"{}", "text/plain")}
    )
    assert r.status_code == 422
    assert error_of(r)["details"] == [{"field": "file", "problem": "missing"}]


def test_csv_json_columns_import_structured_data(db, api, project):
    rows = [{"text": "a", "meta": {"k": [1, 2]}}, {"text": "b", "meta": None}]
    r = post_file(api, project, csv_bytes(rows, json_columns=("meta",)), "t.csv")
    assert r.status_code == 200, r.text
    assert [t.data for t in tasks_of(db, project)] == [
        {"text": "a", "meta": {"k": [1, 2]}},
        {"text": "b", "meta": None},
    ]


def test_parquet_with_nested_and_timestamp_columns_imports(db, api, project):
    import datetime as dt

    rows = [
        {"text": "a", "tags": [1, 2], "at": dt.datetime(2024, 1, 2, 3, 4, 5)},
        {"text": "b", "tags": [], "at": None},
    ]
    r = post_file(api, project, parquet_bytes(rows), "t.parquet")
    assert r.status_code == 200, r.text
    assert [t.data for t in tasks_of(db, project)] == [
        {"text": "a", "tags": [1, 2], "at": "2024-01-02T03:04:05"},
        {"text": "b", "tags": [], "at": None},
    ]


def test_integer_external_ids_are_stored_as_strings(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"text": "a", "external_id": 17}]))
    assert r.status_code == 200, r.text
    assert stored_data(db, project) == [("17", {"text": "a"})]


def test_only_managers_and_owners_may_import(app, db, owner, project):
    annotator = add_member(db, owner, Role.annotator)
    reviewer = add_member(db, owner, Role.reviewer)
    for member in (annotator, reviewer):
        r = post_raw(token_client(app, db, member), project, jsonl_bytes(ROWS))
        assert r.status_code == 403
        with pytest.raises(PermissionDenied):
            service_import(db, member, project, jsonl_bytes(ROWS), "t.jsonl")
    manager = add_member(db, owner, Role.manager)
    assert post_raw(token_client(app, db, manager), project, jsonl_bytes(ROWS)).status_code == 200
    assert count_tasks(db, project) == 3


def test_import_into_another_organizations_project_is_not_found(db, app, project):
    stranger = make_org(db, "Other lab")
    r = post_raw(token_client(app, db, stranger), project, jsonl_bytes(ROWS))
    assert r.status_code == 404
    assert count_tasks(db, project) == 0


def test_session_login_client_needs_csrf_for_import(app, db, owner, project):
    c = login(app, owner)
    assert post_raw(c, project, jsonl_bytes(ROWS)).status_code == 200
    del c.headers["X-CSRF-Token"]
    r = post_raw(c, project, jsonl_bytes(text_rows(2, start=50)))
    assert r.status_code == 403
    assert count_tasks(db, project) == 3


# -- validation against the schema ------------------------------------------------------------


def test_missing_key_names_the_line_and_the_key(db, api, project):
    rows = [{"text": "ok"}, {"body": "no text here"}]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert "line 2" in err["message"] and "'text'" in err["message"]
    assert err["message"].startswith("Nothing was imported")
    assert err["details"] == [
        {"field": "line 2", "problem": "missing key 'text' (read by field 'label')"}
    ]
    assert count_tasks(db, project) == 0


def test_null_counts_as_missing(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"text": None}]))
    assert r.status_code == 422
    assert "missing key 'text'" in error_of(r)["details"][0]["problem"]


@pytest.mark.parametrize(
    ("fmt", "where"), [("json", "item 2"), ("csv", "line 3"), ("parquet", "row 2")]
)
def test_missing_key_names_the_place_in_every_format(db, api, project, fmt, where):
    rows = [{"text": "ok", "other": "x"}, {"text": None, "other": "y"}]
    data = b"other\nx\ny\n" if fmt == "csv" else encode(rows, fmt)  # csv: no text column
    r = post_raw(api, project, data, fmt)
    assert r.status_code == 422, r.text
    fields = [d["field"] for d in error_of(r)["details"]]
    assert where in fields
    assert count_tasks(db, project) == 0


def test_extra_keys_are_kept(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"text": "a", "source": "web", "n": 3}]))
    assert r.status_code == 200
    assert tasks_of(db, project)[0].data == {"text": "a", "source": "web", "n": 3}


@pytest.mark.parametrize(
    ("external_id", "problem"),
    [
        (True, "external_id must be a string or an integer"),
        ("x" * 201, "1 to 200 characters"),
        ("", "1 to 200 characters"),
        ([1], "external_id must be a string"),
    ],
)
def test_bad_external_ids_are_rejected(db, api, project, external_id, problem):
    r = post_raw(api, project, jsonl_bytes([{"text": "a", "external_id": external_id}]))
    assert r.status_code == 422
    assert problem in error_of(r)["details"][0]["problem"]
    assert count_tasks(db, project) == 0


def test_oversized_task_data_is_rejected(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"text": "x" * (1024 * 1024 + 10)}]))
    assert r.status_code == 422
    assert "larger than 1024 KB" in error_of(r)["details"][0]["problem"]


# -- atomicity ---------------------------------------------------------------------------------


def test_one_bad_row_aborts_and_stores_nothing(db, api, owner, project):
    add_tasks(db, owner, project, text_rows(4))
    before_tasks, before_imports = count_tasks(db), count_rows(db, TaskImport)
    before_audit = count_rows(db, AuditEvent)
    rows = [*text_rows(10, start=100), {"nope": 1}, *text_rows(10, start=200)]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    err = error_of(r)
    assert "line 11" in err["message"]
    assert [d["field"] for d in err["details"]] == ["line 11"]
    assert count_tasks(db) == before_tasks == 4
    assert count_rows(db, TaskImport) == before_imports
    assert count_rows(db, AuditEvent) == before_audit


def test_a_bad_row_after_a_full_batch_was_written_still_stores_nothing(db, owner, project):
    rows = [*text_rows(BATCH_SIZE + 3), {"text": ""}, {"wrong": "row"}]
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, jsonl_bytes(rows), "big.jsonl")
    assert exc.value.details[0].field == f"line {BATCH_SIZE + 5}"
    assert count_tasks(db, project) == 0
    assert imports_of(db, project) == []


def test_a_bad_row_after_a_full_batch_via_the_api(db, api, project):
    rows = [*text_rows(BATCH_SIZE + 1), [1, 2, 3]]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    assert error_of(r)["details"][0]["field"] == f"line {BATCH_SIZE + 2}"
    assert count_tasks(db, project) == 0


def test_several_problems_are_reported_at_once(db, api, project):
    data = b'{"text": "ok"}\n{"nope": 1}\n{bad json\n["a list"]\n{"text": "ok2"}\n'
    r = post_raw(api, project, data)
    assert r.status_code == 422
    err = error_of(r)
    assert [d["field"] for d in err["details"]] == ["line 2", "line 3", "line 4"]
    assert "missing key 'text'" in err["details"][0]["problem"]
    assert "not valid JSON" in err["details"][1]["problem"]
    assert "expected a JSON object per task, got list" in err["details"][2]["problem"]
    assert "(and 2 more problems)" in err["message"]
    assert count_tasks(db, project) == 0


def test_one_row_with_several_problems_lists_each(db, api, owner):
    # Pairwise needs a prompt string and exactly two responses; this row has neither.
    pid = make_project(db, owner, schema={"fields": [{"name": "pref", "kind": "pairwise"}]})
    r = post_raw(api, pid, jsonl_bytes([{"prompt": 3, "responses": ["only one"]}]))
    assert r.status_code == 422
    details = error_of(r)["details"]
    assert [d["field"] for d in details] == ["line 1", "line 1"]
    assert "'prompt' (the prompt) must be a string" in details[0]["problem"]
    assert "must hold exactly 2 responses" in details[1]["problem"]


def test_reported_problems_are_capped(db, api, project):
    rows = [{"nope": i} for i in range(MAX_REPORTED_PROBLEMS + 15)]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    err = error_of(r)
    assert len(err["details"]) == MAX_REPORTED_PROBLEMS
    assert f"(and {MAX_REPORTED_PROBLEMS - 1} more problems)" in err["message"]


# -- skip_invalid ------------------------------------------------------------------------------


def test_skip_invalid_imports_good_rows_and_reports_the_rejected(db, api, project):
    data = b'{"text": "a"}\n{"nope": 1}\n{oops\n{"text": "b"}\n42\n'
    r = post_raw(api, project, data, skip_invalid="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rows"], body["created"], body["rejected"], body["duplicates"]) == (5, 2, 3, 0)
    sample = body["rejected_sample"]
    assert [s["where"] for s in sample] == ["line 2", "line 3", "line 5"]
    assert "missing key 'text'" in sample[0]["problems"][0]
    assert "not valid JSON" in sample[1]["problems"][0]
    assert "got int" in sample[2]["problems"][0]
    assert [t.data["text"] for t in tasks_of(db, project)] == ["a", "b"]
    [record] = imports_of(db, project)
    assert (record.rows, record.created, record.rejected, record.duplicates) == (5, 2, 3, 0)


def test_skip_invalid_records_rejections_in_the_audit_log(db, api, project):
    post_raw(api, project, jsonl_bytes([{"text": "a"}, {"x": 1}]), skip_invalid="true")
    [event] = detached(db, select(AuditEvent).where(AuditEvent.action == "tasks.import"))
    assert event.details["rejected"] == 1 and event.details["created"] == 1
    assert event.details["filename"] == "upload.jsonl"


def test_skip_invalid_calls_the_reject_handler_with_row_and_reasons(db, owner, project):
    seen = []
    result = service_import(
        db,
        owner,
        project,
        jsonl_bytes([{"text": "a"}, {"body": "b"}, "str"]),
        "t.jsonl",
        skip_invalid=True,
        on_rejected=lambda where, row, reasons: seen.append((where, row, reasons)),
    )
    assert (result.created, result.rejected) == (1, 2)
    assert seen[0][0] == "line 2" and seen[0][1] == {"body": "b"}
    assert "missing key 'text'" in seen[0][2][0]
    assert seen[1][:2] == ("line 3", "str")


def test_skip_invalid_stops_at_a_fatal_error_but_keeps_what_came_before(db, api, project):
    data = b'[{"text": "a"}, {"text": "b"}, {"text": '
    r = post_raw(api, project, data, "json", skip_invalid="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["rejected"]) == (2, 1)
    assert body["rejected_sample"][0]["where"] == "item 3"
    assert count_tasks(db, project) == 2


def test_skip_invalid_with_only_bad_rows_creates_nothing(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"x": 1}, {"y": 2}]), skip_invalid="true")
    assert r.status_code == 200
    assert (r.json()["created"], r.json()["rejected"]) == (0, 2)
    assert count_tasks(db, project) == 0


# -- idempotence and duplicates ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_reimporting_the_same_file_adds_nothing(db, api, project, fmt):
    rows = [{"external_id": "x1", "text": "one"}, {"external_id": "x2", "text": "two"}]
    data = encode(rows, fmt)
    assert post_raw(api, project, data, fmt).json()["created"] == 2
    again = post_raw(api, project, data, fmt).json()
    assert (again["rows"], again["created"], again["duplicates"]) == (2, 0, 2)
    assert count_tasks(db, project) == 2
    assert [i.duplicates for i in imports_of(db, project)] == [0, 2]


def test_rows_without_external_id_are_deduplicated_by_their_data(db, api, project):
    rows = [{"text": "one", "n": 1}, {"text": "two", "n": 2}]
    assert post_raw(api, project, jsonl_bytes(rows)).json()["created"] == 2
    reordered = [{"n": 1, "text": "one"}, {"n": 2, "text": "two"}, {"text": "three"}]
    again = post_raw(api, project, jsonl_bytes(reordered)).json()
    assert (again["created"], again["duplicates"]) == (1, 2)
    assert [t.data["text"] for t in tasks_of(db, project)] == ["one", "two", "three"]
    assert all(t.external_id is None for t in tasks_of(db, project))


def test_same_data_with_different_external_ids_are_different_tasks(db, api, project):
    rows = [{"text": "same", "external_id": "a"}, {"text": "same", "external_id": "b"}]
    assert post_raw(api, project, jsonl_bytes(rows)).json()["created"] == 2


def test_external_id_match_wins_even_when_the_data_changed(db, api, project):
    post_raw(api, project, jsonl_bytes([{"text": "v1", "external_id": "e"}]))
    again = post_raw(api, project, jsonl_bytes([{"text": "v2", "external_id": "e"}])).json()
    assert (again["created"], again["duplicates"]) == (0, 1)
    assert stored_data(db, project) == [("e", {"text": "v1"})]


def test_a_repeated_external_id_in_one_file_is_a_422_naming_both_lines(db, api, project):
    rows = [
        {"text": "first", "external_id": "dup"},
        {"text": "plain"},
        {"text": "second", "external_id": "dup"},
        {"text": "plain"},
    ]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    assert error_of(r)["details"] == [
        {"field": "line 3", "problem": "external_id 'dup' already appears on line 1 of this file"}
    ]
    assert count_tasks(db, project) == 0
    body = post_raw(api, project, jsonl_bytes(rows), skip_invalid="true").json()
    # the repeated id is rejected; the same data without an id is the same task (duplicate)
    assert (body["rows"], body["created"], body["duplicates"], body["rejected"]) == (4, 2, 1, 1)
    assert stored_data(db, project) == [("dup", {"text": "first"}), (None, {"text": "plain"})]


def test_repeated_external_ids_across_batches_of_one_file_are_rejected(db, owner, project):
    rows = text_rows(BATCH_SIZE + 5) + text_rows(3)  # the last three repeat t0..t2
    result = service_import(db, owner, project, jsonl_bytes(rows), "t.jsonl", skip_invalid=True)
    assert (result.created, result.duplicates, result.rejected) == (BATCH_SIZE + 5, 0, 3)
    assert [s["where"] for s in result.rejected_sample] == [
        f"line {BATCH_SIZE + 6 + i}" for i in range(3)
    ]
    assert count_tasks(db, project) == BATCH_SIZE + 5


def test_dedup_is_per_project(db, api, owner, project):
    other = make_project(db, owner)
    post_raw(api, project, jsonl_bytes(ROWS))
    assert post_raw(api, other, jsonl_bytes(ROWS)).json()["created"] == 3
    assert count_tasks(db, project) == count_tasks(db, other) == 3


# -- structured rows and predictions ----------------------------------------------------------


def structured(ext, text, *predictions, **extra):
    return {"data": {"text": text, **extra}, "external_id": ext, "predictions": list(predictions)}


def test_structured_rows_with_predictions_are_stored_and_served(app, db, api, owner, project):
    rows = [
        structured("s1", "great", {"value": {"label": "pos"}, "model_version": "m1", "score": 0.9}),
        structured(
            "s2", "awful", {"value": {"label": "neg"}}, {"value": {}, "model_version": "empty"}
        ),
        {"data": {"text": "no preds"}},
    ]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 3
    tasks = tasks_of(db, project)
    assert [(t.external_id, t.data) for t in tasks] == [
        ("s1", {"text": "great"}),
        ("s2", {"text": "awful"}),
        (None, {"text": "no preds"}),
    ]
    assert count_rows(db, Prediction) == 3

    got = api.get(f"/api/tasks/{tasks[0].id}").json()
    assert [(p["value"], p["model_version"], p["score"]) for p in got["predictions"]] == [
        ({"label": "pos"}, "m1", 0.9)
    ]
    got = api.get(f"/api/tasks/{tasks[1].id}").json()
    assert [(p["value"], p["model_version"], p["score"]) for p in got["predictions"]] == [
        ({"label": "neg"}, "", None),
        ({}, "empty", None),
    ]
    assert api.get(f"/api/tasks/{tasks[2].id}").json()["predictions"] == []

    annotator = add_member(db, owner, Role.annotator)
    nxt = login(app, annotator).post(f"/api/projects/{project}/next").json()
    assert nxt["task"]["id"] == tasks[0].id
    assert [p["value"] for p in nxt["task"]["predictions"]] == [{"label": "pos"}]


def test_reimporting_structured_rows_does_not_duplicate_predictions(db, api, project):
    data = jsonl_bytes([structured("s1", "x", {"value": {"label": "pos"}})])
    post_raw(api, project, data)
    assert post_raw(api, project, data).json()["duplicates"] == 1
    assert count_rows(db, Prediction) == 1


def test_within_file_repeats_keep_the_first_rows_predictions(db, api, project):
    rows = [
        structured("d", "first", {"value": {"label": "pos"}}),
        structured("d", "second", {"value": {"label": "neg"}}),
        structured("e", "no preds first"),
        structured("e", "later with preds", {"value": {"label": "neu"}}),
    ]
    body = post_raw(api, project, jsonl_bytes(rows), skip_invalid="true").json()
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 0, 2)
    d, e = tasks_of(db, project)
    assert d.data == {"text": "first"}
    assert [p.value for p in predictions_of(db, d.id)] == [{"label": "pos"}]
    assert predictions_of(db, e.id) == []


def test_cross_batch_repeats_do_not_add_predictions(db, owner, project):
    rows = [structured("p0", "x", {"value": {"label": "pos"}})]
    rows += text_rows(BATCH_SIZE)
    rows += [structured("p0", "x", {"value": {"label": "neg"}})]
    result = service_import(db, owner, project, jsonl_bytes(rows), "t.jsonl", skip_invalid=True)
    assert (result.created, result.duplicates, result.rejected) == (BATCH_SIZE + 1, 0, 1)
    first = tasks_of(db, project)[0]
    assert [p.value for p in predictions_of(db, first.id)] == [{"label": "pos"}]


@pytest.mark.parametrize(
    ("prediction", "problem"),
    [
        ({"value": {"label": "maybe"}}, "unknown option 'maybe'"),
        ({"value": {"colour": "pos"}}, "colour: unknown field"),
        ({"value": "pos"}, 'expected {"value"'),
        ({"value": {"label": "pos"}, "confidence": 1}, "unknown key(s) confidence"),
        ({"value": {"label": "pos"}, "score": "high"}, "score must be a number"),
        ({"value": {"label": "pos"}, "model_version": 3}, "model_version must be a string"),
    ],
)
def test_an_invalid_prediction_rejects_the_row(db, api, project, prediction, problem):
    rows = [structured("ok", "x"), structured("bad", "y", prediction)]
    r = post_raw(api, project, jsonl_bytes(rows))
    assert r.status_code == 422
    [detail] = error_of(r)["details"]
    assert detail["field"] == "line 2"
    assert detail["problem"].startswith("predictions[0]: ")
    assert problem in detail["problem"]
    assert count_tasks(db, project) == 0
    assert count_rows(db, Prediction) == 0


def test_predictions_must_be_a_list(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"data": {"text": "x"}, "predictions": {"a": 1}}]))
    assert r.status_code == 422
    assert "predictions must be a list" in error_of(r)["details"][0]["problem"]


def test_unknown_top_level_keys_in_structured_rows_are_rejected(db, api, project):
    row = {"data": {"text": "x"}, "external_id": "1", "meta": {}, "annotations": []}
    r = post_raw(api, project, jsonl_bytes([row]))
    assert r.status_code == 422
    problem = error_of(r)["details"][0]["problem"]
    assert "unknown top-level key(s) annotations, meta" in problem
    assert count_tasks(db, project) == 0


def test_structured_row_data_is_checked_against_the_schema(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"data": {"body": "x"}, "external_id": "1"}]))
    assert r.status_code == 422
    assert "missing key 'text'" in error_of(r)["details"][0]["problem"]


@pytest.mark.parametrize(
    ("line", "kind"),
    [(b"[1, 2]", "list"), (b'"text"', "str"), (b"3.5", "float"), (b"null", "NoneType")],
)
def test_non_object_rows_are_rejected(db, api, project, line, kind):
    r = post_raw(api, project, b'{"text": "ok"}\n' + line + b"\n")
    assert r.status_code == 422
    [detail] = error_of(r)["details"]
    assert detail == {"field": "line 2", "problem": f"expected a JSON object per task, got {kind}"}
    assert count_tasks(db, project) == 0


# -- empty and malformed files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "data"),
    [("jsonl", b""), ("jsonl", b"\n\n  \n"), ("json", b"[]"), ("csv", b""), ("csv", b"text\n")],
)
def test_an_empty_file_is_an_error(db, api, project, fmt, data):
    r = post_raw(api, project, data, fmt)
    assert r.status_code == 422
    err = error_of(r)
    assert "holds no tasks" in err["message"]
    assert imports_of(db, project) == []


def test_an_empty_parquet_file_is_an_error(db, api, project):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), out)
    r = post_raw(api, project, out.getvalue(), "parquet")
    assert r.status_code == 422
    assert "holds no tasks" in error_of(r)["message"]


@pytest.mark.parametrize(
    ("fmt", "data", "where", "problem"),
    [
        ("json", b'[{"text": "a"}, {"text": ', "item 2", "not valid JSON"),
        ("json", b'{"text": "a"}', "file", "JSON array"),
        ("json", b"not json at all", "item 1", "not valid JSON"),
        ("csv", b"text,text\na,b\n", "line 1", "repeated column names"),
        ("csv", b"text,lang\na\n", "line 2", "has 1 cells but the header has 2"),
        ("csv", b"text,m:json\na,{x\n", "line 2", "column 'm:json' is not valid JSON"),
        ("csv", b"text\nok\ncaf\xe9\n", "line 3", "UTF-8"),
        ("csv", b'text\nok\n"open\nthe rest\nof the file\n', "line 3", "is never closed"),
        ("parquet", b"PAR1 but not really", "file", "not a Parquet file"),
        # one nesting limit for every format: 64 levels, the task object included
        (
            "jsonl",
            b'{"text": "a"}\n{"text": "b", "d": ' + b"[" * 64 + b"]" * 64 + b"}\n",
            "line 2",
            "nested deeper than 64 levels",
        ),
        (
            "json",
            b'[{"text": "b", "d": ' + b"[" * 64 + b"]" * 64 + b"}]",
            "item 1",
            "nested deeper than 64 levels",
        ),
        (
            "csv",
            b"text,d:json\nb," + b"[" * 64 + b"]" * 64 + b"\n",
            "line 2",
            "column 'd:json' makes the task nested deeper than 64 levels",
        ),
    ],
)
def test_malformed_files_are_rejected_naming_the_place(db, api, project, fmt, data, where, problem):
    r = post_raw(api, project, data, fmt)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["details"][0]["field"] == where
    assert problem in err["details"][0]["problem"]
    assert where in err["message"]
    assert count_tasks(db, project) == 0


# -- size limits -------------------------------------------------------------------------------


@pytest.fixture
def small_api(settings, db, owner):
    small = settings.model_copy(update={"max_upload_bytes": 2000})
    app = create_app(small, database=db, storage=LocalStorage(small.resolved_storage_dir))
    return token_client(app, db, owner)


def test_an_import_over_the_upload_limit_is_413(db, small_api, project):
    data = jsonl_bytes(text_rows(200))
    assert len(data) > 2000
    r = post_raw(small_api, project, data)
    assert r.status_code == 413
    assert error_of(r)["code"] == "too_large"
    assert count_tasks(db, project) == 0


def test_a_chunked_import_over_the_upload_limit_is_413(db, small_api, project):
    def body():
        for i in range(100):
            yield jsonl_bytes(text_rows(1, start=i))

    r = small_api.post(f"/api/projects/{project}/import?format=jsonl", content=body())
    assert r.status_code == 413
    assert error_of(r)["code"] == "too_large"
    assert count_tasks(db, project) == 0


def test_a_multipart_import_over_the_upload_limit_is_413(db, small_api, project):
    r = post_file(small_api, project, jsonl_bytes(text_rows(200)), "t.jsonl")
    assert r.status_code == 413
    assert count_tasks(db, project) == 0


def test_an_import_under_the_upload_limit_passes_the_small_app(db, small_api, project):
    r = post_raw(small_api, project, jsonl_bytes(text_rows(5)))
    assert r.status_code == 200, r.text
    assert count_tasks(db, project) == 5


# -- image projects: uploads and media references ---------------------------------------------


@pytest.fixture
def boxes(db, owner):
    return make_project(db, owner, schema=BOXES_SCHEMA)


def upload(api, project_id, *files):
    return api.post(
        f"/api/projects/{project_id}/files",
        files=[("files", (name, data, "image/png")) for name, data in files],
    )


def test_uploaded_images_fill_in_their_size_on_import(db, api, boxes):
    r = upload(api, boxes, ("cat.png", png_bytes(40, 30)), ("dog.png", png_bytes(12, 50)))
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [(i["name"], i["width"], i["height"], i["content_type"]) for i in items] == [
        ("cat.png", 40, 30, "image/png"),
        ("dog.png", 12, 50, "image/png"),
    ]
    assert all(i["created"] for i in items)

    rows = [{"image": "cat.png", "external_id": "c"}, {"image": "dog.png", "caption": "woof"}]
    r = post_raw(api, boxes, jsonl_bytes(rows))
    assert r.status_code == 200, r.text
    assert [t.data for t in tasks_of(db, boxes)] == [
        {"image": "cat.png", "image_width": 40, "image_height": 30},
        {"image": "dog.png", "caption": "woof", "image_width": 12, "image_height": 50},
    ]
    task = api.get(f"/api/tasks/{tasks_of(db, boxes)[0].id}").json()
    assert task["media"] == {"cat.png": f"/api/files/{items[0]['id']}"}


def test_a_size_given_in_the_row_is_kept(db, api, boxes):
    upload(api, boxes, ("cat.png", png_bytes(40, 30)))
    row = {"image": "cat.png", "image_width": 400, "image_height": 300}
    assert post_raw(api, boxes, jsonl_bytes([row])).status_code == 200
    assert tasks_of(db, boxes)[0].data == row


def test_a_row_referring_to_a_file_that_is_not_uploaded_is_rejected(db, api, boxes):
    upload(api, boxes, ("cat.png", png_bytes()))
    r = post_raw(api, boxes, jsonl_bytes([{"image": "cat.png"}, {"image": "missing.png"}]))
    assert r.status_code == 422
    [detail] = error_of(r)["details"]
    assert detail["field"] == "line 2"
    assert "'missing.png', which is not uploaded to this project" in detail["problem"]
    assert "upload it first" in detail["problem"]
    assert count_tasks(db, boxes) == 0


def test_a_file_uploaded_to_another_project_does_not_count(db, api, owner, boxes):
    other = make_project(db, owner, schema=BOXES_SCHEMA)
    upload(api, other, ("cat.png", png_bytes()))
    r = post_raw(api, boxes, jsonl_bytes([{"image": "cat.png"}]))
    assert r.status_code == 422
    assert "not uploaded" in error_of(r)["details"][0]["problem"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.org/cat.png", "only https:// URLs may be fetched"),
        ("https://10.0.0.1/x.png", "10.0.0.1 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("s3://some-bucket/x.png", "not one of the lab's media buckets"),
        ("file:///etc/passwd", "file:// URLs are not supported"),
    ],
)
def test_a_row_referring_to_a_url_the_server_may_not_reach_is_rejected(db, api, boxes, url, reason):
    """Media by URL (tests/web/test_task_media.py has the ones that work): by default only
    https:// to public addresses, and no bucket is the lab's; checked without a fetch."""
    r = post_raw(api, boxes, jsonl_bytes([{"image": url}]))
    assert r.status_code == 422
    problem = error_of(r)["details"][0]["problem"]
    assert problem.startswith("'image'") and reason in problem
    assert count_tasks(db, boxes) == 0


def test_image_reference_must_be_a_string(db, api, boxes):
    r = post_raw(api, boxes, jsonl_bytes([{"image": 5}]))
    assert r.status_code == 422
    assert "non-empty string" in error_of(r)["details"][0]["problem"]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.png", b"just some text"),
        ("x.png", b"\x89PNG\r\n\x1a\n truncated"),
        ("a.svg", b"<svg/>"),
    ],
)
def test_uploading_a_non_image_is_422_and_stores_nothing(db, api, settings, boxes, name, data):
    r = upload(api, boxes, (name, data))
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "invalid_input"
    assert "not a readable image" in err["message"]
    assert "SpooledTemporaryFile" not in r.text  # no internals in the reason
    assert count_rows(db, StoredFile) == 0
    storage = settings.resolved_storage_dir
    assert not storage.exists() or not [p for p in storage.rglob("*") if p.is_file()]


def test_uploading_an_unsupported_image_type_is_422(db, api, boxes):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="BMP")
    r = upload(api, boxes, ("pic.bmp", out.getvalue()))
    assert r.status_code == 422
    assert "BMP" in error_of(r)["message"]


def test_one_bad_file_in_an_upload_stores_none_of_them(db, api, boxes):
    r = upload(api, boxes, ("good.png", png_bytes()), ("bad.png", b"nope"))
    assert r.status_code == 422
    assert count_rows(db, StoredFile) == 0


def test_the_same_file_again_is_a_no_op_and_a_different_one_is_409(db, api, boxes):
    assert upload(api, boxes, ("cat.png", png_bytes())).json()["items"][0]["created"]
    again = upload(api, boxes, ("cat.png", png_bytes()))
    assert again.status_code == 201
    assert again.json()["items"][0]["created"] is False
    r = upload(api, boxes, ("cat.png", png_bytes(color=(0, 0, 255))))
    assert r.status_code == 409
    assert count_rows(db, StoredFile) == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\evil.png", "evil.png"),
        ("/abs/path/x.png", "x.png"),
        ("..png", "png"),
        (".hidden.png", "hidden.png"),
        ("we<ird>|na:me.png", "we_ird_na_me.png"),
        ("ünï cödé.png", "_n_ c_d_.png"),
    ],
)
def test_safe_file_name(raw, clean):
    assert safe_file_name(raw) == clean


@pytest.mark.parametrize("raw", ["", "../", "...", "dir/"])
def test_safe_file_name_rejects_names_that_clean_to_nothing(raw):
    with pytest.raises(InvalidInput):
        safe_file_name(raw)


def _files_under(root: Path) -> set[Path]:
    return {p.resolve() for p in root.rglob("*") if p.is_file()}


def test_path_traversal_names_never_escape_the_storage_folder(db, api, settings, tmp_path, boxes):
    storage = settings.resolved_storage_dir.resolve()
    outside_before = _files_under(tmp_path) - _files_under(storage) if storage.exists() else None
    names = ["../../etc/passwd.png", "..\\..\\boot.png", "../../../../tmp/x.png"]
    for i, name in enumerate(names):
        r = upload(api, boxes, (name, png_bytes(5 + i, 5)))
        assert r.status_code == 201, r.text
    stored = detached(db, select(StoredFile).order_by(StoredFile.id))
    assert [f.name for f in stored] == ["passwd.png", "boot.png", "x.png"]
    for f in stored:
        path = (storage / f.storage_key).resolve()
        assert path.is_relative_to(storage) and path.is_file()
        assert ".." not in f.storage_key and "passwd" not in f.storage_key
    assert len(_files_under(storage)) == 3
    if outside_before is not None:
        assert _files_under(tmp_path) - _files_under(storage) == outside_before
    # a row may refer to the cleaned name; the raw name is not a file of the project
    assert post_raw(api, boxes, jsonl_bytes([{"image": "passwd.png"}])).status_code == 200
    r = post_raw(api, boxes, jsonl_bytes([{"image": "../../etc/passwd.png"}]))
    assert r.status_code == 422


def test_store_file_service_sanitises_too(db, owner, settings, boxes):
    storage = LocalStorage(settings.resolved_storage_dir)
    with db.session() as s:
        row, created = store_file(
            s,
            owner.actor,
            boxes,
            name="../../../../etc/cron.d/evil.png",
            source=io.BytesIO(png_bytes()),
            storage=storage,
            max_bytes=10_000,
        )
        assert created and row.name == "evil.png"
        assert row.storage_key.startswith(f"projects/{boxes}/")
    assert storage.exists(row.storage_key)


def test_an_upload_over_max_bytes_is_rejected(db, owner, settings, boxes):
    from labelhouse.errors import TooLarge

    with pytest.raises(TooLarge), db.session() as s:
        store_file(
            s,
            owner.actor,
            boxes,
            name="big.png",
            source=io.BytesIO(png_bytes(200, 200)),
            storage=LocalStorage(settings.resolved_storage_dir),
            max_bytes=100,
        )
    assert count_rows(db, StoredFile) == 0


def test_annotators_cannot_upload_files(app, db, owner, boxes):
    annotator = add_member(db, owner, Role.annotator)
    r = upload(token_client(app, db, annotator), boxes, ("cat.png", png_bytes()))
    assert r.status_code == 403
    assert count_rows(db, StoredFile) == 0


def test_get_file_returns_the_bytes_with_a_sandbox_csp(app, db, api, owner, boxes):
    data = png_bytes(9, 7)
    file_id = upload(api, boxes, ("cat.png", data)).json()["items"][0]["id"]
    r = api.get(f"/api/files/{file_id}")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["content-length"] == str(len(data))
    csp = r.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"

    reviewer = add_member(db, owner, Role.reviewer)
    assert token_client(app, db, reviewer).get(f"/api/files/{file_id}").content == data
    stranger = make_org(db, "Elsewhere")
    assert token_client(app, db, stranger).get(f"/api/files/{file_id}").status_code == 404
    assert api.get(f"/api/files/{file_id + 1000}").status_code == 404


def test_an_annotator_gets_only_the_media_of_tasks_given_to_them(app, db, api, owner, boxes):
    """Issue 11, item 1: an annotator downloaded any uploaded file of the organization by id,
    including images of tasks never leased to them. Media follow the task rule."""
    files = upload(api, boxes, ("cat.png", png_bytes(4, 3)), ("dog 2.png", png_bytes(5, 2)))
    cat, dog = (i["id"] for i in files.json()["items"])
    rows = [{"image": "cat.png", "external_id": "c"}, {"image": "dog 2.png", "external_id": "d"}]
    assert post_raw(api, boxes, jsonl_bytes(rows)).status_code == 200
    annotator = add_member(db, owner, Role.annotator)
    c = token_client(app, db, annotator)
    missing = c.get("/api/files/987654321")
    for file_id in (cat, dog):  # nothing leased yet: as missing as a file that does not exist
        r = c.get(f"/api/files/{file_id}")
        assert r.status_code == 404
        assert r.json()["error"]["message"].replace(str(file_id), "N") == missing.json()["error"][
            "message"
        ].replace("987654321", "N")
    lease = c.post(f"/api/projects/{boxes}/next").json()
    assert lease["task"]["data"]["image"] == "cat.png"
    assert lease["task"]["media"] == {"cat.png": f"/api/files/{cat}"}
    assert c.get(f"/api/files/{cat}").status_code == 200
    assert c.get(f"/api/files/{dog}").status_code == 404
    # submitted work keeps its media; the next task opens its own
    tid = lease["task"]["id"]
    answer = {"value": {"objects": [{"x": 0, "y": 0, "width": 1, "height": 1, "label": "cat"}]}}
    assert c.post(f"/api/tasks/{tid}/annotations", json=answer).status_code in (200, 201)
    assert c.post(f"/api/projects/{boxes}/next").json()["task"]["data"]["image"] == "dog 2.png"
    assert c.get(f"/api/files/{dog}").status_code == 200
    assert c.get(f"/api/files/{cat}").status_code == 200
    # an annotator outside the project sees neither
    outsider = add_member(db, owner, Role.annotator, join_projects=False)
    assert token_client(app, db, outsider).get(f"/api/files/{cat}").status_code == 404


def test_jpeg_uploads_are_served_as_jpeg(db, api, boxes):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, format="JPEG")
    item = upload(api, boxes, ("p.jpg", out.getvalue())).json()["items"][0]
    assert item["content_type"] == "image/jpeg"
    r = api.get(item["url"])
    assert r.headers["content-type"] == "image/jpeg" and r.content == out.getvalue()


def test_boxes_project_imports_json_and_csv_too(db, api, boxes):
    upload(api, boxes, ("a.png", png_bytes(10, 20)), ("b.png", png_bytes(30, 40)))
    assert post_raw(api, boxes, json_bytes([{"image": "a.png"}]), "json").status_code == 200
    assert post_raw(api, boxes, csv_bytes([{"image": "b.png"}]), "csv").status_code == 200
    assert [(t.data["image_width"], t.data["image_height"]) for t in tasks_of(db, boxes)] == [
        (10, 20),
        (30, 40),
    ]


def test_schema_choice_project_rows_ignore_media_lookup(db, api, owner):
    pid = make_project(db, owner, schema=CHOICE_SCHEMA)
    r = post_raw(api, pid, jsonl_bytes([{"text": "x", "image": "https://example.org/a.png"}]))
    assert r.status_code == 200  # only fields with media keys resolve files


# -- NUL characters (PostgreSQL cannot store them; both databases refuse them alike) ----------


@pytest.mark.parametrize(
    ("data", "fmt", "problem"),
    [
        (b'{"text": "a\\u0000b"}\n', "jsonl", "'text' contains a NUL character"),
        (b'{"text": "a", "external_id": "x\\u0000"}\n', "jsonl", "external_id contains a NUL"),
        (b"text,external_id\nhello\x00world,1\n", "csv", "'text' contains a NUL character"),
        (b'[{"text": "ok"}, {"text": "\\u0000"}]', "json", "'text' contains a NUL character"),
        (
            b'{"data": {"text": "a"}, "predictions": [{"value": {"label": "pos\\u0000"}}]}\n',
            "jsonl",
            "predictions[0].value.label contains a NUL",
        ),
    ],
)
def test_nul_characters_are_refused_naming_the_row_and_key(db, api, project, data, fmt, problem):
    r = post_raw(api, project, data, fmt)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert problem in err["details"][0]["problem"], err
    assert err["details"][0]["field"] in ("line 2", "item 2", "line 1")
    assert count_tasks(db, project) == 0


def test_the_text_backslash_u0000_is_not_a_nul(db, api, project):
    r = post_raw(api, project, jsonl_bytes([{"text": "literally \\u0000"}]))
    assert r.status_code == 200, r.text
    assert stored_data(db, project) == [(None, {"text": "literally \\u0000"})]
