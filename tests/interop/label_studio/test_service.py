"""The migration use case on a real database (SQLite, and PostgreSQL when configured):
Label Studio's files → a project with its schema, tasks, predictions and images → the
``label_studio`` export and config → read again."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Row, select

from labelhouse.errors import Conflict, InvalidInput, PermissionDenied
from labelhouse.exports.service import plan_export
from labelhouse.interop.label_studio.config import parse_config
from labelhouse.interop.label_studio.reader import ReadReport, read_export
from labelhouse.interop.label_studio.service import migrate, project_config
from labelhouse.projects.models import Project
from labelhouse.projects.service import load_schema
from labelhouse.storage import LocalStorage
from labelhouse.tasks.models import Prediction, StoredFile, Task
from tests.factories import Member, add_member
from tests.interop.label_studio.fixtures import (
    FIXTURES,
    PROJECTS,
    config_text,
    conversion,
    export_path,
    read,
)


def run(db: Any, owner: Member, name: str, tmp_path: Path, **options: Any) -> Any:
    media = {p.name: (lambda p=p: p.open("rb")) for p in (FIXTURES / "media").iterdir()}
    with export_path(name).open("rb") as stream:
        return migrate(
            db,
            owner.actor,
            export=stream,
            config=config_text(name),
            project_name=f"from {name}",
            filename=f"{name}.export.json",
            media=media if name == "boxes" else None,
            storage=LocalStorage(tmp_path / "media"),
            **options,
        )


@pytest.mark.parametrize("name", PROJECTS)
def test_a_fixture_becomes_a_project_with_its_tasks_and_predictions(
    db: Any, owner: Member, tmp_path: Path, name: str
) -> None:
    result = run(db, owner, name, tmp_path)
    rows, _ = read(name)
    assert result.tasks.created == len(rows) and result.tasks.rejected == 0
    with db.read_session() as s:
        project = s.get(Project, result.project_id)
        assert project.name == f"from {name}"
        schema = load_schema(s, project)
        assert [f.kind_name for f in schema.fields] == [
            f.kind_name for f in conversion(name).schema.fields
        ]
        tasks = s.execute(
            select(Task.external_id, Task.data, Task.id)
            .where(Task.project_id == project.id)
            .order_by(Task.id)
        ).all()
        assert [t.external_id for t in tasks] == [r.task["external_id"] for r in rows]
        for task, row in zip(tasks, rows, strict=True):
            assert task.data == row.task["data"]
            stored = s.execute(
                select(Prediction.model_version, Prediction.score, Prediction.value)
                .where(Prediction.task_id == task.id)
                .order_by(Prediction.id)
            ).all()
            assert [
                {"value": p.value, "model_version": p.model_version, "score": p.score}
                for p in stored
            ] == row.task.get("predictions", [])
        # the most answers a task had is the project's overlap
        assert project.overlap == max(len(r.annotations) for r in rows)
        if name == "boxes":
            names = s.scalars(select(StoredFile.name).where(StoredFile.project_id == project.id))
            assert sorted(names) == sorted(p.name for p in (FIXTURES / "media").iterdir())
    assert result.media_uploaded == (2 if name == "boxes" else 0)


@pytest.mark.parametrize("name", PROJECTS)
def test_the_project_exports_as_label_studio_json_that_reads_back(
    db: Any, owner: Member, tmp_path: Path, name: str
) -> None:
    result = run(db, owner, name, tmp_path)
    with db.read_session() as s:
        xml = project_config(s, owner.actor, result.project_id)
        plan = plan_export(s, owner.actor, result.project_id, format_name="label_studio")
        written = b"".join(plan.stream(s))
    assert parse_config(xml).document == conversion(name).document
    report = ReadReport()
    again = list(read_export(io.BytesIO(written), parse_config(xml), report))
    rows, _ = read(name)
    assert [a.task["external_id"] for a in again] == [r.task["external_id"] for r in rows]
    for before, after in zip(rows, again, strict=True):
        assert after.task.get("predictions") == before.task.get("predictions")
        assert {k: after.task["data"][k] for k in before.task["data"]} == before.task["data"]
    assert report.summary() == []


def test_a_bad_export_writes_nothing(db: Any, owner: Member) -> None:
    with pytest.raises(InvalidInput):
        migrate(
            db,
            owner.actor,
            export=io.BytesIO(b'[{"no": "data"}]'),
            config=config_text("classification"),
            project_name="never",
        )
    with db.read_session() as s:
        assert s.scalar(select(Project.id).where(Project.name == "never")) is None


def test_strict_mode_refuses_what_would_be_dropped(db: Any, owner: Member, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        run(db, owner, "classification", tmp_path, strict=True)
    assert "cancelled" in caught.value.details[0].problem


def test_images_must_come_along_for_boxes(db: Any, owner: Member, tmp_path: Path) -> None:
    def attempt(name: str, media: Any) -> InvalidInput:
        with export_path("boxes").open("rb") as stream, pytest.raises(InvalidInput) as caught:
            migrate(
                db,
                owner.actor,
                export=stream,
                config=config_text("boxes"),
                project_name=name,
                media=media,
                storage=LocalStorage(tmp_path / "media"),
            )
        return caught.value

    # no images at all: refused before anything is written
    refused = attempt("no images", None)
    assert "send Label Studio's folder of them along" in refused.message
    with db.read_session() as s:
        assert s.scalar(select(Project.id).where(Project.name == "no images")) is None
    # one missing: the task import refuses, and the message says the project exists
    park = next((FIXTURES / "media").glob("*-park.png"))
    partial = attempt("half the images", {park.name: lambda: park.open("rb")})
    assert "was created, but its tasks were not imported" in partial.message
    assert "not uploaded to this project" in str(partial.details)


def test_a_task_the_schema_cannot_read_is_left_out_with_a_warning(
    db: Any, owner: Member, tmp_path: Path
) -> None:
    export = io.BytesIO(
        b'[{"id": 1, "data": {"text": "fine"}}, {"id": 2, "data": {"other": "no text"}}]'
    )
    result = migrate(
        db, owner.actor, export=export, config=config_text("ner"), project_name="partial"
    )
    assert result.tasks.created == 1
    assert any(
        w.startswith("task 2 was left out with its answers: missing key 'text'")
        for w in result.warnings()
    )


def test_only_managers_migrate_and_names_stay_unique(
    db: Any, owner: Member, tmp_path: Path
) -> None:
    annotator = add_member(db, owner)
    with pytest.raises(PermissionDenied):
        migrate(
            db,
            annotator.actor,
            export=io.BytesIO(b"[]"),
            config=config_text("ner"),
            project_name="x",
        )
    run(db, owner, "ner", tmp_path)
    with pytest.raises(Conflict):
        run(db, owner, "ner", tmp_path)


def _canonical(value: Any) -> bytes:
    """A value as comparable bytes: PostgreSQL's JSONB keeps an object's keys in its own
    order, so answers are compared with their keys sorted."""
    return orjson.dumps(
        tuple(value) if isinstance(value, tuple | Row) else value, option=orjson.OPT_SORT_KEYS
    )


def test_answers_are_imported_with_their_annotators(db: Any, owner: Member, tmp_path: Path) -> None:
    """Label Studio's answers come in through the annotation import, their annotators as
    external annotators, and go out again in the Label Studio export."""
    from labelhouse.accounts.models import ExternalAnnotator
    from labelhouse.annotations.models import Annotation

    result = run(db, owner, "classification", tmp_path)
    assert result.annotations is not None and not result.notes
    rows, _ = read("classification")
    with db.read_session() as s:
        stored = s.execute(
            select(Task.external_id, Annotation.value, Annotation.lead_time_ms)
            .join(Task, Task.id == Annotation.task_id)
            .where(Annotation.project_id == result.project_id)
            .order_by(Task.id, Annotation.created_at)
        ).all()
    expected = [
        (a["external_id"], a["value"], a["lead_time_ms"]) for r in rows for a in r.annotations
    ]
    assert sorted(map(_canonical, stored)) == sorted(map(_canonical, expected))
    with db.read_session() as s:
        identities = set(s.scalars(select(ExternalAnnotator.identity)))
    assert identities == {a["annotator"] for r in rows for a in r.annotations}
    assert result.annotations.external_annotators_created == len(identities) > 0
    with db.read_session() as s:
        plan = plan_export(s, owner.actor, result.project_id, format_name="label_studio")
        written = b"".join(plan.stream(s))
    again = list(read_export(io.BytesIO(written), conversion("classification"), ReadReport()))
    assert sorted(_canonical(a["value"]) for t in again for a in t.annotations) == sorted(
        _canonical(a["value"]) for r in rows for a in r.annotations
    )
