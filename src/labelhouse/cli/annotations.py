"""``labelhouse annotations import``: bring answers a lab already has (vendor deliveries,
crowd labels) into a project, with a progress bar on standard error."""

from __future__ import annotations

from pathlib import Path

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, open_db, project_and_actor, settings_for
from labelhouse.cli.output import AsJson, echo_json
from labelhouse.errors import LabelhouseError

annotations_app = App(help="Annotations: import existing ones.", no_args_is_help=True)


@annotations_app.command("import")
def import_annotations(
    project: str = typer.Argument(..., help="Project id or exact name"),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help=".jsonl, .json, .csv or .tsv"
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        help="jsonl, json, csv, or long (item, worker, label); default: from the extension",
    ),
    field: str | None = typer.Option(
        None, "--field", help="Long format: the field the labels answer (default: the only one)"
    ),
    update: bool = typer.Option(
        False, "--update", help="Store a different answer as a new revision instead of refusing"
    ),
    workforce: str | None = typer.Option(
        None, "--workforce", help="Workforce (name or id) of the external annotators created"
    ),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Import answers. One bad row stores nothing; the same file again changes nothing.

    An annotator that is a member's e-mail is that member; any other name becomes an
    external annotator (who can never sign in). See docs/import.md."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from labelhouse.annotations import imports

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            project_id = proj.id
        size = file.stat().st_size
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn())
        with (
            Progress(*columns, TextColumn("{task.fields[rows]} rows"), console=console) as bar,
            file.open("rb") as raw,
            db.session(long_running=True) as s,
        ):
            task = bar.add_task(f"Checking {file.name}", total=size, rows=0)

            def on_progress(rows: int) -> None:
                bar.update(task, completed=raw.tell() if not raw.closed else size, rows=rows)

            result = imports.import_file(
                s,
                actor,
                project_id,
                raw,
                filename=file.name,
                file_format=format,
                field_name=field,
                update=update,
                workforce=workforce,
                on_progress=on_progress,
            )
            bar.update(task, completed=size, description=f"Read {file.name}")
        if as_json and not result.ok:
            echo_json(result.as_dict())  # every problem, for scripts (nothing was written)
        result.raise_for_problems(file.name)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(result.as_dict())
        return
    typer.echo(
        f"Imported {result.imported:,} answers from {result.rows:,} rows "
        f"({result.unchanged:,} already stored, {result.updated:,} updated, "
        f"{result.external_annotators_created:,} new external annotators)."
    )
