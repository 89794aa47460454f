"""Migrating a Label Studio project: its config and JSON export → a new Labelhouse project
with tasks, predictions and answers.

The order is chosen so that a bad file costs nothing: the config is converted and the whole
export read (into temporary JSONL files, so memory stays flat however large it is) before
the project is created. Then, each step through the existing use case that owns it: the
project (``projects.service.create_project``), the images the tasks refer to
(``tasks.service.store_file``), the tasks with their predictions (``tasks.importer
.run_import``: validated, idempotent, staged on SQLite), and the answers
(``annotations.imports.import_annotations``, which makes annotators that are not users
external annotators).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

import orjson

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.errors import InvalidInput, LabelhouseError, Problem
from labelhouse.interop.label_studio.config import Conversion, parse_config
from labelhouse.interop.label_studio.reader import ReadReport, read_export
from labelhouse.projects.service import MAX_OVERLAP, create_project

if TYPE_CHECKING:
    from labelhouse.db.engine import Database
    from labelhouse.tasks.importer import ImportResult

Opener = Callable[[], BinaryIO]  # a fresh stream of one media file each call
SOURCE = "label_studio"


@dataclass
class Migration:
    """What a migration did, for the CLI and the API to report."""

    project_id: int
    project_name: str
    config_warnings: list[str]
    read: ReadReport
    tasks: ImportResult
    media_uploaded: int = 0
    media_unreferenced: list[str] = field(default_factory=list)
    annotations: Any = None  # what import_annotations returned (None: not imported)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [*self.config_warnings, *self.read.summary(), *self.notes]

    def summary(self) -> str:
        """One paragraph for a person: what came in, and what did not."""
        t = self.tasks
        text = (
            f"Created project '{self.project_name}' (id {self.project_id}): {t.created:,} "
            f"tasks ({t.rejected:,} rejected), {self.read.predictions:,} predictions, "
            f"{self.read.annotations:,} answers read."
        )
        notes = self.warnings()
        if notes:
            text += " Notes: " + "; ".join(notes[:10]) + ("; …" if len(notes) > 10 else ".")
        return text

    def as_dict(self) -> dict[str, Any]:
        answers = self.annotations
        if answers is not None and hasattr(answers, "as_dict"):
            answers = answers.as_dict()
        return {
            "project_id": self.project_id,
            "project_name": self.project_name,
            "tasks": self.tasks.as_dict(),
            "predictions": self.read.predictions,
            "answers_read": self.read.annotations,
            "annotations": answers,
            "media_uploaded": self.media_uploaded,
            "media_unreferenced": self.media_unreferenced,
            "warnings": self.warnings(),
            "message": self.summary(),
        }


def convert_config(config: str | bytes, *, strict: bool = False) -> Conversion:
    """The config as a Labelhouse schema; with ``strict`` a skipped tag is an error."""
    conversion = parse_config(config)
    if strict and conversion.warnings:
        raise InvalidInput(
            "The labeling config has tags Labelhouse cannot carry over (leave out strict "
            "mode to skip them).",
            [Problem("config", w) for w in conversion.warnings],
        )
    return conversion


@dataclass
class Spooled:
    """The export read and converted into two temporary JSONL files."""

    tasks: BinaryIO
    answers: BinaryIO
    report: ReadReport
    overlap: int = 1  # the most answers a task has
    media_names: list[str] = field(default_factory=list)  # a few image names tasks refer to


def spool_export(export: BinaryIO, conversion: Conversion, *, strict: bool = False) -> Spooled:
    """Read the whole export before anything is written; ``strict``: nothing may be dropped."""
    report = ReadReport()
    tasks = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115 (closed by migrate)
    answers = cast(BinaryIO, tempfile.TemporaryFile())  # noqa: SIM115
    spooled = Spooled(tasks, answers, report)
    line = orjson.OPT_APPEND_NEWLINE
    media_keys = sorted({k for f in conversion.schema.fields for k in f.media_keys()})
    try:
        for converted in read_export(export, conversion, report):
            tasks.write(orjson.dumps(converted.task, option=line))
            for answer in converted.annotations:
                answers.write(orjson.dumps(answer, option=line))
            spooled.overlap = max(spooled.overlap, len(converted.annotations))
            if len(spooled.media_names) < 3:
                spooled.media_names.extend(_media_names(converted.task["data"], media_keys))
    except BaseException:
        tasks.close()
        answers.close()
        raise
    if strict and report.summary():
        tasks.close()
        answers.close()
        raise InvalidInput(
            "Some of the export cannot be carried over (leave out strict mode to import the rest).",
            [Problem("export", w) for w in report.summary()],
        )
    tasks.seek(0)
    answers.seek(0)
    return spooled


def _media_names(data: dict[str, Any], keys: list[str]) -> list[str]:
    """The uploaded-file names (not URLs) a task's media keys hold."""
    refs = (data.get(key) for key in keys)
    return [r for r in refs if isinstance(r, str) and r and "://" not in r]


def migrate(
    db: Database,
    actor: Actor,
    *,
    export: BinaryIO,
    config: str | bytes,
    project_name: str,
    filename: str = "label-studio-export.json",
    media: Mapping[str, Opener] | None = None,
    storage: Any = None,
    max_upload_bytes: int = 50 * 1024 * 1024,
    strict: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> Migration:
    """Create the project ``project_name`` from a Label Studio config and export."""
    actor.require_org(Role.manager, "create projects")
    conversion = convert_config(config, strict=strict)
    spooled = spool_export(export, conversion, strict=strict)
    with spooled.tasks, spooled.answers:
        if spooled.media_names and not media:
            example = spooled.media_names[0]
            raise InvalidInput(
                f"The tasks refer to uploaded images (e.g. '{example}'); send Label Studio's "
                "folder of them along (media/upload/<project id>, or --files).",
                [Problem("files", "missing")],
            )
        with db.session() as session:
            project = create_project(
                session,
                actor,
                name=project_name,
                schema=conversion.document,
                description=f"Migrated from Label Studio ({filename[-200:]}).",
                overlap=min(spooled.overlap, MAX_OVERLAP),
            )
            project_id, name = project.id, project.name
        uploaded, unreferenced = 0, list[str]()
        if media:
            uploaded, unreferenced = upload_media(
                db, actor, project_id, media, spooled.tasks, storage, max_upload_bytes
            )
        from labelhouse.tasks.importer import run_import

        try:
            tasks = run_import(
                db,
                actor,
                project_id,
                spooled.tasks,
                filename=filename,
                file_format="jsonl",
                on_progress=on_progress,
            )
        except LabelhouseError as exc:
            exc.message = (
                f"The project '{name}' (id {project_id}) was created, but its tasks were not "
                f"imported: {exc.message}"
            )
            raise
        result = Migration(
            project_id, name, conversion.warnings, spooled.report, tasks, uploaded, unreferenced
        )
        result.annotations = import_answers(
            db, actor, project_id, spooled.answers, filename=filename, notes=result.notes
        )
    return result


def upload_media(
    db: Database,
    actor: Actor,
    project_id: int,
    media: Mapping[str, Opener],
    tasks: BinaryIO,
    storage: Any,
    max_upload_bytes: int,
) -> tuple[int, list[str]]:
    """Upload the offered files the converted tasks refer to (by the name Label Studio
    gave them); returns how many and the names of the others."""
    from labelhouse.tasks.import_files import plan_media
    from labelhouse.tasks.service import store_file

    with db.read_session() as session:
        plan = plan_media(session, actor, project_id, dict(media), tasks, "jsonl")
    with db.session() as session:
        for name, opener in plan.upload:
            with opener() as stream:
                store_file(
                    session,
                    actor,
                    project_id,
                    name=name,
                    source=stream,
                    storage=storage,
                    max_bytes=max_upload_bytes,
                )
    return len(plan.upload), plan.unreferenced


def answer_rows(answers: IO[bytes]) -> Iterator[dict[str, Any]]:
    for line in answers:
        yield orjson.loads(line)


def import_answers(
    db: Database,
    actor: Actor,
    project_id: int,
    answers: IO[bytes],
    *,
    filename: str,
    notes: list[str],
) -> Any:
    """The answers through the annotation import (annotators who are not users of the
    organization become external annotators). Its problems, if any, become notes: the
    annotation import writes nothing when a row is wrong, and the project with its tasks
    stays, so the answers can be imported again once fixed (``labelhouse annotations
    import``)."""
    from labelhouse.annotations.imports import import_annotations

    answers.seek(0)
    if not answers.read(1):
        return None
    answers.seek(0)
    with db.session(long_running=True) as session:
        result = import_annotations(
            session, actor, project_id, answer_rows(answers), source=SOURCE, filename=filename
        )
    if result.problems:
        shown = "; ".join(f"{p.field}: {p.problem}" for p in result.problems[:5])
        notes.append(
            f"The answers were not imported ({len(result.problems):,} problems, e.g. {shown}); "
            "the tasks and predictions were."
        )
    return result


def project_config(session: Any, actor: Actor, project_id: int) -> str:
    """The labeling config for the project's current schema (what ``export --format
    label_studio`` goes with); readable by whoever may export the project."""
    from labelhouse.interop.label_studio.layout import write_config
    from labelhouse.projects.service import get_project, load_schema

    actor = actor.in_project(project_id)
    actor.require(Role.manager, "export data")
    project = get_project(session, actor, project_id)
    return write_config(load_schema(session, project))
