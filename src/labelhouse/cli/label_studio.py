"""``labelhouse label-studio``: migrate a Label Studio project in (its JSON export and
labeling config), and give the labeling config that goes with ``export --format
label_studio``. docs/label-studio.md explains what maps to what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from labelhouse.cli.app import App
from labelhouse.cli.common import (
    DataDir,
    console,
    fail,
    open_db,
    org_actor,
    project_and_actor,
    read_text,
    settings_for,
)
from labelhouse.cli.output import AsJson, echo_json
from labelhouse.cli.people import Organization
from labelhouse.errors import LabelhouseError

label_studio_app = App(
    help="Migrate from Label Studio: import its export, or print the config of an export to it."
)


def _warn(sentences: list[str]) -> None:
    for sentence in sentences:
        console.print(f"[yellow]Note:[/] {escape(sentence)}", soft_wrap=True)


@label_studio_app.command("import")
def import_export(
    export: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Label Studio JSON export"
    ),
    config: Path = typer.Option(
        ..., "--config", exists=True, dir_okay=False, help="The project's labeling config (XML)"
    ),
    project: str = typer.Option(..., "--project", help="Name of the Labelhouse project to create"),
    files: Path | None = typer.Option(
        None,
        "--files",
        exists=True,
        file_okay=False,
        help="Folder of the images the tasks refer to (Label Studio's media/upload/<project>)",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse, rather than skip, anything that cannot be carried over"
    ),
    organization: int | None = Organization,
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Create a project from a Label Studio export: schema, tasks, predictions and answers.

    The config is converted and the whole export read before anything is written; what
    cannot be carried over is listed on standard error (or refused with --strict).
    """
    from labelhouse.interop.label_studio.service import migrate

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        text = read_text(config, "the labeling config")
        media: dict[str, Any] = {}
        storage = None
        if files is not None:
            from labelhouse.storage import open_storage

            storage = open_storage(settings)
            media = {
                p.name: (lambda p=p: p.open("rb"))
                for p in files.iterdir()
                if p.is_file() and not p.name.startswith(".")
            }
        with db.read_session() as s:
            actor = org_actor(s, organization)
        with export.open("rb") as stream, console.status(f"Migrating {export.name}…"):
            result = migrate(
                db,
                actor,
                export=stream,
                config=text,
                project_name=project,
                filename=export.name,
                media=media,
                storage=storage,
                max_upload_bytes=settings.max_upload_bytes,
                strict=strict,
            )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(result.as_dict())
    else:
        typer.echo(result.project_id)
    t = result.tasks
    console.print(
        f"Created project '{escape(result.project_name)}': {t.created:,} tasks "
        f"({t.rejected:,} rejected), {result.read.predictions:,} predictions, "
        f"{result.read.annotations:,} answers read.",
        soft_wrap=True,
        highlight=False,
    )
    if result.annotations is not None:
        console.print(f"Answers imported: {escape(str(_counts(result.annotations)))}")
    _warn(result.warnings())


def _counts(outcome: Any) -> Any:
    return outcome.as_dict() if hasattr(outcome, "as_dict") else outcome


@label_studio_app.command("config")
def print_config(
    project: str = typer.Argument(..., help="Project id or exact name"),
    data_dir: Path | None = DataDir,
) -> None:
    """Print the Label Studio labeling config for a project's schema (XML, standard output)."""
    from labelhouse.interop.label_studio.service import project_config

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            xml = project_config(s, actor, proj.id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(xml, nl=False)


@label_studio_app.command("schema")
def print_schema(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Labeling config (XML)"),
    strict: bool = typer.Option(False, "--strict", help="Refuse tags that cannot be carried over"),
) -> None:
    """Print the Labelhouse schema a labeling config becomes (JSON), without importing anything."""
    from labelhouse.interop.label_studio.service import convert_config

    try:
        conversion = convert_config(read_text(config, "the labeling config"), strict=strict)
    except LabelhouseError as exc:
        raise fail(exc) from None
    echo_json(conversion.document)
    _warn(conversion.warnings)
