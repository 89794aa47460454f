"""``labelhouse trace FILE``: find the canary markers in leaked text and name the serving
each came from (workforce, person, project, task, when).

Results go to standard output, one line per marker; diagnostics to standard error. Exit
status: 0 when a marker names a serving, 1 when none does (or none is found), 2 when the
file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from labelhouse.cli.common import DataDir, console, fail, open_db, organization_id, settings_for
from labelhouse.errors import LabelhouseError
from labelhouse.storable import ID_MAX


def _read(path: str) -> str:
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")  # markers survive other bad bytes


def trace_command(
    file: str = typer.Argument(..., help="The leaked text (any text file; - for standard input)"),
    organization: int | None = typer.Option(
        None, min=1, max=ID_MAX, help="Only servings of this organization (default: any)"
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Name who was served the text leaked in FILE, from its canary markers.

    Names the servings (lease, workforce, person, project, task, time) whose invisible
    canary markers are in FILE. Markers are only in text served to vendors of projects
    with the canary on; retyping, ASCII-only conversion or stripping invisible characters
    removes them."""
    from labelhouse.tasks.outside_policy import trace_markers

    try:
        text = _read(file)
    except OSError as exc:
        console.print(f"[bold red]Error:[/] cannot read {file}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.read_session() as s:
            if organization is not None:
                organization_id(s, organization)  # one nobody has is a mistake, not "no marker"
            result = trace_markers(s, text, organization_id=organization)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if not result.traces:
        typer.echo(f"No canary marker found in {file}.")
        raise typer.Exit(1)
    for n, t in enumerate(result.traces, 1):
        if not t.found:
            where = f"organization {organization}" if organization else "this database"
            typer.echo(f"marker {n}: lease {t.lease_id} names no serving in {where}")
            continue
        served = t.served_at.strftime("%Y-%m-%d %H:%M:%S UTC") if t.served_at else "?"
        typer.echo(
            f"marker {n}: workforce {t.workforce or '(none)'}, person {t.email}, "
            f"project {t.project} ({t.project_id}), task {t.task_id}, served at {served}"
            f" (lease {t.lease_id})"
        )
    if result.more:
        console.print(f"{result.more} more markers were not looked up; trace a smaller part.")
    if not any(t.found for t in result.traces):
        raise typer.Exit(1)
