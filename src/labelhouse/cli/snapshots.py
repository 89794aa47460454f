"""``labelhouse snapshot …``: freeze an export as a snapshot, list, download, verify.

A snapshot's files are stored once and served as stored, so the same snapshot id always
yields the same bytes; ``verify`` checks a downloaded copy against its manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, open_db, settings_for
from labelhouse.cli.output import AsJson, echo_json, echo_table, iso
from labelhouse.errors import LabelhouseError

snapshot_app = App(help="Snapshots: frozen exports with a manifest of hashes; create, get, verify.")


def _format_options(pairs: list[str]) -> dict[str, dict[str, str]]:
    """``--option format:name=value`` pairs, per format."""
    options: dict[str, dict[str, str]] = {}
    for pair in pairs:
        fmt, colon, rest = pair.partition(":")
        name, eq, value = rest.partition("=")
        if not colon or not eq or not fmt.strip() or not name.strip():
            raise typer.BadParameter(f"'{pair}' is not format:name=value", param_hint="--option")
        options.setdefault(fmt.strip(), {})[name.strip()] = value
    return options


@snapshot_app.command("create")
def create(
    project: str = typer.Argument(..., help="Project id or exact name"),
    formats: list[str] = typer.Option(
        ["jsonl"], "--format", "-f", help="A format to include (repeatable)"
    ),
    name: str = typer.Option("", "--name", help="A name to recognise it by"),
    include_drafts: bool = typer.Option(False, "--include-drafts"),
    content: str = typer.Option("raw", "--content", help="raw, consensus or both"),
    consensus_method: str = typer.Option(
        "majority", "--consensus-method", help="majority, dawid_skene or gold_weighted"
    ),
    csv_keep_formulas: bool = typer.Option(False, "--csv-keep-formulas"),
    option: list[str] = typer.Option(
        [], "--option", help="A format's option as format:name=value (repeatable)"
    ),
    background: bool = typer.Option(
        False, "--background", help="Leave it to the job workers and print the job id at once"
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Freeze an export as a snapshot; prints the snapshot id on standard output.

    By default the snapshot is written here, with a progress bar; --background queues it
    for the job workers (`labelhouse serve` or `labelhouse jobs worker`)."""
    from labelhouse.cli.common import project_and_actor
    from labelhouse.cli.jobs import report, run_here
    from labelhouse.jobs.exports import request_snapshot
    from labelhouse.jobs.runtime import Jobs

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            snapshot, job = request_snapshot(
                s,
                actor,
                proj.id,
                formats=formats,
                name=name,
                include_drafts=include_drafts,
                content=content,
                consensus_method=consensus_method,
                csv_formulas="keep" if csv_keep_formulas else "escape",
                options=_format_options(option),
            )
        if background:
            Jobs(settings, database=db).enqueue(job.id)
            console.print(f"Snapshot {snapshot.id} queued as job {job.id}.")
            typer.echo(snapshot.id)
            return
        finished = run_here(settings, db, job.id, f"Snapshot {snapshot.id}")
        report(finished)
        typer.echo(snapshot.id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


def _snapshot(s: Any, snapshot_id: int) -> tuple[Any, Any]:
    from labelhouse.cli.common import owner_actor
    from labelhouse.errors import NotFound
    from labelhouse.jobs.models import Snapshot
    from labelhouse.jobs.snapshots import get_snapshot

    row = s.get(Snapshot, snapshot_id)
    if row is None:
        raise NotFound(f"Snapshot {snapshot_id} does not exist.")
    return get_snapshot(s, owner_actor(s, row.organization_id), snapshot_id)


@snapshot_app.command("list")
def list_snapshots(
    project: str = typer.Argument(..., help="Project id or exact name"),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """A project's snapshots, newest first."""
    from labelhouse.cli.common import project_and_actor
    from labelhouse.jobs import snapshots

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            rows = [
                {
                    "id": snap.id,
                    "name": snap.name,
                    "state": job.state,
                    "formats": snap.settings.get("formats", []),
                    "created_at": iso(snap.created_at),
                    "files": [f["name"] for f in (snap.manifest or {}).get("files", [])],
                }
                for snap, job in snapshots.list_snapshots(s, actor, proj.id)
            ]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ["ID", "STATE", "FORMATS", "CREATED", "NAME"],
        [
            [str(r["id"]), r["state"], ",".join(r["formats"]), r["created_at"] or "", r["name"]]
            for r in rows
        ],
    )


@snapshot_app.command("download")
def download(
    snapshot_id: int = typer.Argument(..., min=1),
    folder: Path = typer.Argument(..., file_okay=False, help="Folder to write the files into"),
    data_dir: Path | None = DataDir,
) -> None:
    """Write a snapshot's files and its manifest.json into a folder, exactly as stored."""
    from labelhouse.exports.manifest import MANIFEST_NAME
    from labelhouse.jobs.snapshots import snapshot_file
    from labelhouse.storage import open_storage

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        storage = open_storage(settings)
        with db.read_session() as s:
            snapshot, _job = _snapshot(s, snapshot_id)
            from labelhouse.cli.common import owner_actor

            actor = owner_actor(s, snapshot.organization_id)
            names = [f["name"] for f in (snapshot.manifest or {}).get("files", [])]
            stored = [snapshot_file(s, actor, snapshot_id, n) for n in [*names, MANIFEST_NAME]]
        folder.mkdir(parents=True, exist_ok=True)
        for f in stored:
            with (folder / f.name).open("wb") as out:
                for chunk in storage.iter_bytes(f.key):
                    out.write(chunk)
            console.print(f"{f.name}: {f.size} bytes")
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    typer.echo(str(folder))


@snapshot_app.command("verify")
def verify(
    folder: Path = typer.Argument(..., file_okay=False, help="A downloaded snapshot's folder"),
) -> None:
    """Check a snapshot's copy against its manifest.json: exit status 1 on any difference.

    Every file's size and SHA-256 are recomputed; each missing, changed or extra file is
    named on standard output."""
    from labelhouse.exports.manifest import verify_dir

    try:
        problems = verify_dir(folder)
    except ValueError as exc:
        console.print(f"[bold red]Error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    for p in problems:
        typer.echo(f"{p.name}: {p.problem}")
    if problems:
        console.print(f"[bold red]{len(problems)} difference(s)[/] from the manifest.")
        raise typer.Exit(1)
    console.print("Every file matches the manifest.")
