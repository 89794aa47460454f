"""The keys a task row reserves (``external_id``, ``predictions``, ``gold``, ``data``) mean
the same in a flat row (``{"text": …, "predictions": […]}``) as in a structured one
(``{"data": {…}, "predictions": […]}``): they are never stored as task data."""

from __future__ import annotations

import io

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.tasks.importer import run_import
from labelhouse.tasks.models import Prediction
from tests.factories import make_project
from tests.helpers_data import count_rows, count_tasks, encode, predictions_of, tasks_of

PRED = {"value": {"label": "pos"}, "model_version": "m1", "score": 0.75}


@pytest.fixture
def project(db, owner):
    return make_project(db, owner)


def service_import(db, owner, project_id, data: bytes, filename: str = "t.jsonl", **kwargs):
    return run_import(db, owner.actor, project_id, io.BytesIO(data), filename=filename, **kwargs)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_a_flat_row_with_predictions_and_gold_means_them_as_a_structured_row_does(
    db, owner, project, fmt
):
    rows = [
        {"external_id": "p", "text": "nice", "predictions": [PRED], "gold": None},
        {"external_id": "g", "text": "awful", "predictions": None, "gold": {"label": "neg"}},
    ]
    if fmt == "csv":
        from tests.helpers_data import csv_bytes

        data = csv_bytes(rows, json_columns=("predictions", "gold"))
    else:
        data = encode(rows, fmt)
    result = service_import(db, owner, project, data, f"t.{fmt}")
    assert (result.created, result.rejected) == (2, 0)
    p, g = tasks_of(db, project)
    assert (p.external_id, p.data, p.gold) == ("p", {"text": "nice"}, None)
    assert (g.external_id, g.data, g.gold) == ("g", {"text": "awful"}, {"label": "neg"})
    assert [(x.value, x.model_version, x.score) for x in predictions_of(db, p.id)] == [
        ({"label": "pos"}, "m1", 0.75)
    ]
    assert predictions_of(db, g.id) == []


def test_flat_and_structured_forms_of_one_task_are_the_same_task(db, owner, project):
    flat = {"text": "same", "predictions": [PRED]}
    structured = {"data": {"text": "same"}, "predictions": [PRED]}
    first = service_import(db, owner, project, encode([flat], "jsonl"))
    again = service_import(db, owner, project, encode([structured], "jsonl"))
    assert (first.created, again.created, again.duplicates) == (1, 0, 1)
    assert count_rows(db, Prediction) == 1


def test_bad_predictions_in_a_flat_row_are_refused_like_a_structured_rows(db, owner, project):
    rows = [{"text": "x", "predictions": {"label": "pos"}}, {"text": "y", "gold": "pos"}]
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, encode(rows, "jsonl"))
    problems = [(d.field, d.problem) for d in exc.value.details]
    assert problems[0] == ("line 1", "predictions must be a list")
    assert problems[1] == (
        "line 1",
        "At the top level of a row 'predictions' is the task's predictions; put the task's "
        """data under "data" to have a task key named 'predictions': {"data": {"predictions": …}}""",
    )
    assert problems[2][0] == "line 2" and problems[2][1].startswith("gold: ")
    assert "At the top level of a row 'gold' is the task's expected answer" in problems[3][1]
    assert count_tasks(db, project) == 0


@pytest.mark.parametrize("value", ["hello", 3, ["a"], None])
def test_a_data_key_that_is_not_an_object_is_refused_showing_the_structured_form(
    db, owner, project, value
):
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, project, encode([{"text": "x", "data": value}], "jsonl"))
    [problem] = exc.value.details
    assert problem.field == "line 1"
    assert problem.problem == (
        "'data' must be an object holding the task's data, as in "
        '{"data": {"text": "…"}, "external_id": "…", "predictions": […], "gold": {…}}; '
        "a task key named 'data' goes inside it"
    )


def test_a_schema_reading_a_reserved_key_is_served_by_the_structured_form(db, owner):
    schema = {
        "fields": [{"name": "ok", "kind": "choice", "reads": ["gold"], "options": [{"value": "y"}]}]
    }
    pid = make_project(db, owner, schema=schema)
    with pytest.raises(InvalidInput) as exc:
        service_import(db, owner, pid, encode([{"gold": "a gold ring"}], "jsonl"))
    messages = [d.problem for d in exc.value.details]
    assert (
        "'gold' is task data this project's schema reads, but at the top level of a row "
        "'gold' is the task's expected answer; put the task's data under \"data\" to have a "
        """task key named 'gold': {"data": {"gold": …}}"""
    ) in messages
    result = service_import(db, owner, pid, encode([{"data": {"gold": "a gold ring"}}], "jsonl"))
    assert result.created == 1
    assert tasks_of(db, pid)[0].data == {"gold": "a gold ring"}
