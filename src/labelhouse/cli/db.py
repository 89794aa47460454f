"""``labelhouse db upgrade|check``: migrations, and checks that find damage.

``db check`` compares the database's schema with the models. ``--deep`` also asks the engine
to read every page (:mod:`labelhouse.db.integrity`) and checks the work queue's invariants
(:mod:`labelhouse.tasks.invariants`); ``--repair`` then recomputes the queue's counters, one
transaction per project. Results go to standard output (``--json`` for scripts), progress
and timings to standard error; the exit status is 1 while any problem remains. A check never
writes, except ``--repair`` (counters only) and enabling PostgreSQL's amcheck extension.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, open_db, settings_for
from labelhouse.errors import LabelhouseError

if TYPE_CHECKING:
    from labelhouse.db.engine import Database
    from labelhouse.db.integrity import StorageReport
    from labelhouse.tasks.invariant_repair import Repair
    from labelhouse.tasks.invariants import QueueReport

db_app = App(help="Database migrations and checks.", no_args_is_help=True)

REPAIR_ATTEMPTS = 3
_SERIALIZATION_FAILURE = "40001"


@db_app.command("upgrade")
def db_upgrade(data_dir: Path | None = DataDir) -> None:
    """Bring the database to the newest migration (``serve`` does this on start)."""
    db = open_db(settings_for(data_dir))
    db.dispose()
    typer.echo("The database is at the latest revision.")


@db_app.command("check")
def db_check(
    deep: bool = typer.Option(
        False,
        "--deep",
        help="Also read every page (SQLite integrity_check, PostgreSQL amcheck) and check the "
        "work queue's invariants",
    ),
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Implies --deep; then recompute the work queue's counters (task taken, done, "
        "is_open; route taken, is_open) from the rows they count, one transaction per project",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on standard output"),
    data_dir: Path | None = DataDir,
) -> None:
    """Check the database's schema; with --deep also its pages and the work queue.

    The schema is compared with the models (like `alembic check`). Exit status 1 when a
    problem is found."""
    from sqlalchemy.exc import DBAPIError

    from labelhouse.db import integrity

    settings = settings_for(data_dir)
    url = settings.resolved_database_url
    db = open_db(settings, upgrade=False)  # a check never migrates (nor touches a damaged file)
    say: Say = _silent if as_json else typer.echo
    try:
        result = _check(db, url, deep=deep or repair, repair=repair, say=say)
    except DBAPIError as exc:
        sentence = integrity.describe_database_error(exc, url) or _unreachable(exc)
        console.print(f"[bold red]Error:[/] {sentence}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    ok = _ok(result)
    if as_json:
        import orjson

        typer.echo(orjson.dumps({"ok": ok, **result}, option=orjson.OPT_INDENT_2).decode())
    elif not (deep or repair) and ok:
        console.print(
            "This compared the schema only: `labelhouse db check --deep` also reads every page "
            "and checks the work queue.",
            soft_wrap=True,
        )
    if not ok:
        raise typer.Exit(1)


Say = Callable[[str], Any]


def _silent(_: str) -> None:
    """``--json``: the document is the only output."""


def _check(db: Database, url: str, *, deep: bool, repair: bool, say: Say) -> dict[str, Any]:
    """The phases in order: storage (--deep), schema, work queue (--deep), repair. A later
    phase runs only when the earlier ones leave something to check."""
    from sqlalchemy.exc import DBAPIError

    from labelhouse.db import integrity

    result: dict[str, Any] = {"storage": None, "schema": None, "queue": None}
    if deep:
        storage = _timed("storage", lambda: _storage(db))
        result["storage"] = storage.as_dict()
        _print_storage(storage, say)
        if not storage.readable:
            result["schema"] = {"error": "the database cannot be read"}
            say("Schema and work queue: not checked (the database cannot be read).")
            return result
    if not _schema(db, result, say):
        if deep:
            say("Work queue: not checked (the schema is not the one this version expects).")
        return result
    if not deep:
        return result
    try:
        report = _timed("work queue", lambda: _queue(db))
    except DBAPIError as exc:  # a damaged page, which the storage check has reported
        sentence = integrity.damage_sentence(exc, url)
        if sentence is None:
            raise
        result["queue"] = {"error": sentence}
        say(f"Work queue: not checked: {sentence}")
        return result
    result["queue"] = report.as_dict()
    _print_queue(report, say, repair=repair)
    if repair:
        _repair(db, report, result, say)
    return result


def _unreachable(exc: Any) -> str:
    first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig)
    return (
        f"the database could not be read ({first}). Check LABELHOUSE_DATABASE_URL and that the "
        "server is up, then run the check again."
    )


def _timed(what: str, run: Any) -> Any:
    started = time.perf_counter()
    out = run()
    console.print(f"Checked the {what} in {time.perf_counter() - started:.1f} s.")
    return out


def _ok(result: dict[str, Any]) -> bool:
    storage, schema, queue = result["storage"], result["schema"], result["queue"]
    if storage is not None and not storage["intact"]:
        return False
    if "error" in schema or schema["differences"] or schema["current"] != schema["expected"]:
        return False
    final = result.get("queue_after_repair") or queue
    if final is not None and "error" in final:
        return False
    return final is None or not any(v["severity"] == "problem" for v in final["violations"])


# -- the parts ---------------------------------------------------------------------------------


class _Progress:
    """Rich progress on a terminal; nothing otherwise (logs get the timings)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.bar.add_task("", total=None)

    def __call__(self, what: str, done: int, total: int) -> None:
        self.bar.update(self.task, description=what, completed=done, total=total or None)

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _storage(db: Database) -> StorageReport:
    from labelhouse.db import integrity
    from labelhouse.tables import Base

    with _Progress() as progress:
        return integrity.check_storage(
            db.read_engine, tables=list(Base.metadata.tables), progress=progress
        )


def _schema(db: Database, result: dict[str, Any], say: Say) -> bool:
    """Whether the schema is current (so the queue's tables are what this code expects)."""
    from labelhouse.db import migrate
    from labelhouse.tables import Base

    current, expected = migrate.revisions(db.read_engine)
    diffs = (
        [str(d) for d in migrate.pending_differences(db.read_engine, Base.metadata)]
        if current == expected
        else []
    )
    result["schema"] = {
        "current": sorted(current),
        "expected": sorted(expected),
        "differences": diffs,
    }
    if current != expected:
        say(
            f"Schema: the database is at revision {', '.join(sorted(current)) or 'none'}, "
            f"this version of Labelhouse expects {', '.join(sorted(expected))}: back it up, "
            "then run `labelhouse db upgrade`."
        )
    elif diffs:
        say(f"Schema: {len(diffs)} differences between models and database:")
        for d in diffs:
            say(f"  {d}")
    else:
        say("No differences between models and database.")
    return current == expected


def _queue(db: Database) -> QueueReport:
    from labelhouse.tasks import invariants

    with _Progress() as progress, db.read_session() as s:
        return invariants.find_violations(s, progress=progress)


def _repair(db: Database, report: QueueReport, result: dict[str, Any], say: Say) -> None:
    storage = result["storage"]
    if storage is not None and not storage["intact"]:
        result["repair"] = {"refused": "the database file is damaged"}
        say(
            "Repair: not attempted. Counters recomputed from damaged pages could be wrong: "
            "restore or recover the database first (see Storage above), then repair."
        )
        return
    repairs = [_repair_project(db, pid) for pid in report.repairable_projects()]
    result["repair"] = [{"project_id": r.project_id, "changed": r.changed} for r in repairs]
    if not repairs:
        say("Repair: no counter needed it.")
        return
    for r in repairs:
        changes = ", ".join(f"{n:,} × {what}" for what, n in r.changed.items() if n)
        name = report.projects.get(r.project_id, "")
        say(f"Repaired project {r.project_id} ({name}): {changes or 'nothing left to change'}.")
    again = _timed("work queue again", lambda: _queue(db))
    result["queue_after_repair"] = again.as_dict()
    say("After the repair:")
    _print_queue(again, say, repair=True)


def _repair_project(db: Database, project_id: int) -> Repair:
    """One transaction; on PostgreSQL retried when a claim moved a counter meanwhile."""
    from sqlalchemy.exc import DBAPIError

    from labelhouse.tasks import invariant_repair

    for attempt in range(1, REPAIR_ATTEMPTS + 1):
        started = time.perf_counter()
        try:
            with db.session() as s:
                repair = invariant_repair.repair_counters(s, project_id)
            console.print(
                f"Recomputed project {project_id}'s counters in "
                f"{time.perf_counter() - started:.1f} s (one transaction)."
            )
            return repair
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _SERIALIZATION_FAILURE:
                raise
            console.print(f"Project {project_id}: the queue moved meanwhile; again ({attempt}).")
            time.sleep(0.2 * attempt)
    raise LabelhouseError(
        f"Project {project_id} kept changing while its counters were recomputed "
        f"({REPAIR_ATTEMPTS} attempts): run the repair again when fewer people are working."
    )


# -- output ------------------------------------------------------------------------------------


def _print_storage(report: StorageReport, say: Say) -> None:
    if report.intact and not report.checked:
        say(f"Storage: not checked ({report.method}).")
    elif report.intact:
        checked = ", ".join(f"{n:,} {what}" for what, n in report.checked.items())
        say(f"Storage: no damage found in {checked} ({report.method}).")
    else:
        say(f"Storage: DAMAGED ({report.method}):")
        for problem in report.problems:
            say(f"  {problem}")
        if report.more_problems:
            say("  … and more")
    for note in report.notes:
        say(f"  Note: {note}.")
    for skipped in report.skipped:
        say(f"  Not checked: {skipped}.")
    if report.advice:
        say(f"  What to do: {report.advice}")


def _print_queue(report: QueueReport, say: Say, *, repair: bool) -> None:
    from labelhouse.tasks.invariants import CHECKS

    problems = report.problems
    notes = [v for v in report.violations if v not in problems]
    broken = len({v.check for v in problems})
    verdict = (
        f"{broken} broken, in {len({v.project_id for v in problems})} project(s)"
        if problems
        else "all hold"
    )
    say(f"Work queue: {len(CHECKS)} rules over {report.tasks:,} tasks: {verdict}.")
    for v in problems + notes:
        name = report.projects.get(v.project_id, "")
        rows = f"{v.count:,} {'row breaks' if v.count == 1 else 'rows break'}"
        kind = "note" if v in notes else v.check
        say(f'  project {v.project_id} ({name}), {kind}: {rows} "{CHECKS[v.check].rule}"')
        say("    " + "; ".join(v.examples) + ("; …" if v.count > len(v.examples) else ""))
        if v.note:
            say(f"    ({v.note})")
    fixable = [v for v in problems if CHECKS[v.check].repairable]
    if fixable and not repair:
        say(
            "  `labelhouse db check --repair` recomputes the counters (task taken, done, "
            "is_open; route taken, is_open) from their rows."
        )
    if len(fixable) < len(problems):
        say(
            "  The other rules concern assignments and annotations themselves, which the "
            "repair never changes: see docs/database-checks.md."
        )
