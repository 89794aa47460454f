"""``labelhouse import``, ``export`` and ``imports``: bulk data in and out (with progress
bars), and undoing an import."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from labelhouse.cli.app import App
from labelhouse.cli.common import (
    DataDir,
    console,
    fail,
    open_db,
    open_for_writing,
    project_and_actor,
    settings_for,
    writable_path,
)
from labelhouse.cli.output import AsJson, echo_json, echo_table, iso
from labelhouse.errors import InvalidInput, LabelhouseError, Problem
from labelhouse.storable import ID_MAX

if TYPE_CHECKING:
    from rich.progress import Progress


def _progress() -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def import_command(
    project: str = typer.Argument(..., help="Project id or exact name"),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help=".jsonl, .json, .csv or .parquet"
    ),
    format: str | None = typer.Option(
        None, "--format", help="Override the format guessed from the extension"
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import good rows; write rejected ones to --rejected"
    ),
    rejected: Path | None = typer.Option(
        None, "--rejected", help="Where rejected rows go (default: FILE.rejected.jsonl)"
    ),
    files: Path | None = typer.Option(
        None,
        "--files",
        exists=True,
        file_okay=False,
        help="Upload the images in this folder that rows refer to, first (the others are named)",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Import tasks. One bad row aborts and stores nothing, unless --skip-invalid."""
    if "numpy" not in sys.modules:
        # Importing does no linear algebra, but the field kinds import numpy, whose OpenBLAS
        # starts a pool of spinning threads: a tenth of a second of CPU taken from the import.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import orjson

    from labelhouse.cli.models import calls_on_import, say_calls_on_import
    from labelhouse.media.sources import MediaSources
    from labelhouse.tasks import importer

    settings = settings_for(data_dir)
    rejected_path = writable_path(
        rejected or file.with_name(file.name + ".rejected.jsonl"), "--rejected"
    )
    db = open_db(settings)
    rejected_out: Any = None

    def on_rejected(where: str, row: Any, reasons: list[str]) -> None:
        nonlocal rejected_out
        if rejected_out is None:
            rejected_out = rejected_path.open("wb")
        rejected_out.write(
            orjson.dumps(
                {"where": where, "problems": reasons, "row": row},
                default=str,
                option=orjson.OPT_APPEND_NEWLINE,
            )
        )

    try:
        if files is not None:
            _upload_referenced_files(db, settings, project, file, format, files)
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            project_id = proj.id
        with _progress() as bar, file.open("rb") as raw:
            size = file.stat().st_size
            task = bar.add_task(f"Importing {file.name}", total=size, rows=0)

            seekable = raw.seekable()  # not a pipe

            def on_progress(rows: int) -> None:
                # Per batch, from the file position: rich's wrap_file advances the bar once
                # per line, which cost more than parsing the line.
                done = (size if raw.closed else raw.tell()) if seekable else None
                bar.update(task, completed=done, rows=rows)

            # Rows are acyclic and freed as each batch is written: the cycle collector would
            # only walk them over and over. A high threshold keeps it for stray cycles.
            thresholds = gc.get_threshold()
            gc.set_threshold(100_000, *thresholds[1:])
            try:
                # Its own transactions: on SQLite short ones, so annotators keep working.
                result = importer.run_import(
                    db,
                    actor,
                    project_id,
                    raw,
                    filename=file.name,
                    file_format=format,
                    skip_invalid=skip_invalid,
                    on_rejected=on_rejected,
                    on_progress=on_progress,
                    media=MediaSources.from_settings(settings),
                )
            finally:
                gc.set_threshold(*thresholds)
            if seekable:  # Parquet is read out of order: the position need not end at the end
                bar.update(task, completed=size)
        models = (
            calls_on_import(db, settings, actor, project_id, result.import_id)
            if result.import_id
            else []
        )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        if rejected_out is not None:
            rejected_out.close()
        db.dispose()
    typer.echo(
        f"Imported {result.created:,} new tasks from {result.rows:,} rows "
        f"({result.duplicates:,} already present, {result.rejected:,} rejected)."
    )
    if result.rejected:
        typer.echo(f"Rejected rows with reasons: {rejected_path}")
    say_calls_on_import(models)


def _upload_referenced_files(
    db: Any, settings: Any, project: str, file: Path, file_format: str | None, folder: Path
) -> None:
    """Upload the files of ``folder`` that rows of ``file`` refer to (with a progress bar),
    and name the others on stderr: they are not needed, whatever they are."""
    from labelhouse.storage import open_storage
    from labelhouse.tasks.import_files import plan_media, unreferenced_sentence
    from labelhouse.tasks.importer import check_may_import

    if not file.is_file():
        raise InvalidInput(
            f"With --files, {file} must be a regular file: it is read twice (first for the "
            "files its rows refer to).",
            [Problem("file", "not a regular file")],
        )
    offered = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    # Reading the task file takes a while: in a read session, not holding SQLite's write lock.
    with db.read_session() as s:
        proj, actor = project_and_actor(s, project)
        fmt = check_may_import(actor, proj.id, file.name, file_format)
        with (
            console.status(f"Finding the files that rows of {file.name} refer to…"),
            file.open("rb") as stream,
        ):
            plan = plan_media(s, actor, proj.id, offered, stream, fmt)
    if plan.upload:
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            storage = open_storage(settings)
            _store_files(s, actor, proj.id, plan.upload, storage, settings.max_upload_bytes)
    if plan.unreferenced:
        sentence = unreferenced_sentence(plan.unreferenced, str(folder))
        console.print(sentence, soft_wrap=True, highlight=False, markup=False)


def _store_files(
    s: Any, actor: Any, project_id: int, files: list[tuple[str, Path]], storage: Any, limit: int
) -> None:
    from labelhouse.tasks.service import store_file

    with _progress() as bar:
        t = bar.add_task(
            "Uploading images", total=sum(path.stat().st_size for _, path in files), rows=0
        )
        for i, (name, path) in enumerate(files, 1):
            with path.open("rb") as fh:
                store_file(
                    s, actor, project_id, name=name, source=fh, storage=storage, max_bytes=limit
                )
            bar.update(t, advance=path.stat().st_size, rows=i)


def export_command(
    project: str = typer.Argument(..., help="Project id or exact name"),
    format: str = typer.Option(
        "jsonl",
        "--format",
        "-f",
        help="jsonl, json, csv, or a training format: parquet, hf_dataset, trl_preference, "
        "trl_kto, trl_sft… (docs/export.md lists them all with their options)",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default: standard output)"
    ),
    include_drafts: bool = typer.Option(False, "--include-drafts"),
    content: str = typer.Option(
        "raw", "--content", help="raw annotations, consensus per field, or both"
    ),
    consensus_method: str = typer.Option(
        "majority", "--consensus-method", help="majority, dawid_skene or gold_weighted"
    ),
    csv_keep_formulas: bool = typer.Option(
        False,
        "--csv-keep-formulas",
        help="CSV: write cells starting with = + - @ exactly (for programs); by default they "
        "get a ' in front so that spreadsheets do not run them as formulas",
    ),
    option: list[str] = typer.Option(
        [],
        "--option",
        help="A format option as name=value (repeatable), e.g. --option values=consensus",
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Export every task with its annotations and predictions (streamed)."""
    from labelhouse.exports.service import plan_export

    settings = settings_for(data_dir)
    if output is not None:
        writable_path(output, "--output")  # before the work, not after it
    db = open_db(settings)
    try:
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            plan = plan_export(
                s,
                actor,
                proj.id,
                format_name=format,
                include_drafts=include_drafts,
                content=content,
                consensus_method=consensus_method,
                csv_formulas="keep" if csv_keep_formulas else "escape",
                options=_options(option),
            )
        target = open_for_writing(output, "--output") if output else sys.stdout.buffer
        written = 0
        try:
            with db.read_session() as s, _progress() as bar:
                t = bar.add_task(f"Exporting {plan.project_name}", total=None, rows="…")
                for chunk in plan.stream(s):
                    target.write(chunk)
                    written += len(chunk)
                    bar.update(t, completed=written)
        finally:
            if output:
                target.close()
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if output:  # the file is the result
        console.print(f"[green]Wrote[/] {written:,} bytes to {escape(str(output))}")
    counts = plan.options.get("counts")  # what the format could not write as asked
    if counts:
        listed = ", ".join(
            f"{n:,} {escape(what.replace('_', ' '))}" for what, n in sorted(counts.items())
        )
        console.print(
            f"[yellow]Noted by the {plan.format_name} format:[/] {listed} (docs/export.md)"
        )


def _options(pairs: list[str]) -> dict[str, str]:
    """``--option name=value`` pairs as a dict; a pair without ``=`` is a usage error."""
    options: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"'{pair}' is not name=value", param_hint="--option")
        options[name.strip()] = value
    return options


imports_app = App(help="A project's imports; undo one.", no_args_is_help=True)


@imports_app.command("list")
def list_imports(
    project: str = typer.Argument(..., help="Project id or exact name"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """The project's latest imports, newest first."""
    from labelhouse.tasks.queries import recent_imports

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            from labelhouse.web.api.serializers import import_out  # (the import command stays lean)

            found: list[dict[str, Any]] = [
                {  # the API's record (GET /api/projects/{id}/imports), times as ISO text
                    "id": i.id,
                    "project_id": proj.id,
                    **import_out(i),
                    "removed_at": iso(i.removed_at),
                    "created_at": iso(i.created_at),
                }
                for i in recent_imports(s, actor, proj.id, limit=limit)
            ]
            name = proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    counts = ("rows", "created", "duplicates", "rejected", "removed")
    if as_json:
        echo_json(found)
    elif found:
        echo_table(
            ["ID", "WHEN (UTC)", "FILE", "ROWS", "NEW", "DUP.", "REJ.", "REMOVED"],
            [
                [str(i["id"]), str(i["created_at"]).replace("T", " ")[:16], i["filename"]]
                + [f"{i[k]:,}" for k in counts]
                for i in found
            ],
        )
    else:
        console.print(f"No imports into project '{escape(name)}' yet.", soft_wrap=True)


@imports_app.command("undo")
def undo_import(
    project: str = typer.Argument(..., help="Project id or exact name"),
    import_id: int = typer.Argument(
        ..., min=1, max=ID_MAX, help="The import's id (see `labelhouse imports list`)"
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
    data_dir: Path | None = DataDir,
) -> None:
    """Remove an import's tasks that nobody has worked on yet.

    Their predictions go with them; tasks someone was given or answered stay."""
    from labelhouse.tasks.undo import get_import
    from labelhouse.tasks.undo import undo_import as undo

    db = open_db(settings_for(data_dir))
    try:
        # Ask outside the write transaction: SQLite's writers would wait for the answer.
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            record = get_import(s, actor, proj.id, import_id)
            question = (
                f"Remove the tasks of import {import_id} ({record.filename}, "
                f"{record.created - record.removed:,} still in the project) that nobody has "
                "been given or answered?"
            )
        if not yes:
            typer.confirm(question, abort=True)
        with db.session() as s, console.status("Removing tasks…"):
            proj, actor = project_and_actor(s, project)
            result = undo(s, actor, proj.id, import_id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(
        f"Removed {result.removed:,} tasks of import {import_id}"
        + (f"; kept {result.kept:,} that someone worked on." if result.kept else ".")
    )
