"""``labelhouse models …``: model endpoints (add, list, remove, rotate-key), the egress
policy (allow), and asking an endpoint for predictions or candidates (``predict``, with
progress); and the calls ``labelhouse import`` makes when the project's egress rule asks
for them.

The CLI acts as the organization's owner (it runs on the server). API keys are never
command-line arguments (shell history, process lists): give the name of an environment
variable holding the key, or pipe it on standard input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, console, fail, open_db, owner_actor, settings_for
from labelhouse.cli.output import AsJson, echo_json, echo_table
from labelhouse.cli.people import Organization
from labelhouse.errors import InvalidInput, LabelhouseError

models_app = App(help="Models in the loop: endpoints, the egress policy, predictions.")
endpoint_app = App(help="Model endpoints: add, list, remove, rotate-key.")
models_app.add_typer(endpoint_app, name="endpoint")


def _api_key(env: str | None, stdin: bool) -> str | None:
    if env and stdin:
        raise InvalidInput("Give the API key one way: --api-key-env or --api-key-stdin.")
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise InvalidInput(f"The environment variable {env} (--api-key-env) is empty or unset.")
        return value
    if stdin:
        value = sys.stdin.readline().strip()
        if not value:
            raise InvalidInput("No API key on standard input (--api-key-stdin).")
        return value
    return None


@endpoint_app.command("add")
def add(
    name: str = typer.Argument(..., help="A name to call it by (unique in the organization)"),
    url: str = typer.Option(..., "--url", help="Base URL (openai) or the URL to POST to (http)"),
    kind: str = typer.Option("openai", "--kind", help="openai or http"),
    model: str = typer.Option("", "--model", help="Model name (openai)"),
    version: str = typer.Option("", "--version", help="A version string of yours"),
    temperature: float | None = typer.Option(None, "--temperature", min=0, max=2),
    candidates: int = typer.Option(2, "--candidates", min=1, max=20, help="Candidates (n)"),
    mapping: str | None = typer.Option(None, "--mapping", help="JSON response mapping (http)"),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Name of an environment variable holding the API key"
    ),
    api_key_stdin: bool = typer.Option(False, "--api-key-stdin", help="Read the key from stdin"),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Add a model endpoint; prints its id on standard output."""
    from labelhouse.cli.common import organization_id
    from labelhouse.models_loop import endpoints

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        parsed: dict[str, Any] | None = None
        if mapping:
            try:
                parsed = json.loads(mapping)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"--mapping is not JSON: {exc.msg} at {exc.pos}.") from None
        key = _api_key(api_key_env, api_key_stdin)
        with db.session() as s:
            actor = owner_actor(s, organization_id(s, organization))
            row = endpoints.create_endpoint(
                s,
                actor,
                settings,
                name=name,
                kind=kind,
                url=url,
                model=model,
                version=version,
                temperature=temperature,
                candidates=candidates,
                mapping=parsed,
                api_key=key,
            )
            typer.echo(row.id)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


@endpoint_app.command("list")
def list_endpoints(
    organization: int | None = Organization,
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """The organization's endpoints (API keys only as "set")."""
    from labelhouse.cli.common import organization_id
    from labelhouse.models_loop import endpoints

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.read_session() as s:
            actor = owner_actor(s, organization_id(s, organization))
            rows = [endpoints.endpoint_out(e) for e in endpoints.list_endpoints(s, actor)]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json([{**r, "created_at": r["created_at"].isoformat()} for r in rows])
        return
    echo_table(
        ["ID", "NAME", "KIND", "URL", "MODEL VERSION", "API KEY"],
        [
            [str(r["id"]), r["name"], r["kind"], r["url"], r["model_version"], r["api_key"] or "-"]
            for r in rows
        ],
    )


@endpoint_app.command("remove")
def remove(
    endpoint: str = typer.Argument(..., help="Endpoint id or name"),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Remove an endpoint and every egress rule for it (stored predictions stay)."""
    from labelhouse.cli.common import organization_id
    from labelhouse.models_loop import endpoints

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.session() as s:
            endpoints.remove_endpoint(s, owner_actor(s, organization_id(s, organization)), endpoint)
        console.print(f"Removed endpoint {endpoint}.")
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


@endpoint_app.command("rotate-key")
def rotate_key(
    endpoint: str = typer.Argument(..., help="Endpoint id or name"),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Name of an environment variable holding the new key"
    ),
    api_key_stdin: bool = typer.Option(
        False, "--api-key-stdin", help="Read the new key from stdin"
    ),
    organization: int | None = Organization,
    data_dir: Path | None = DataDir,
) -> None:
    """Replace an endpoint's API key (rules and predictions stay); the key is never shown."""
    from labelhouse.cli.common import organization_id
    from labelhouse.models_loop import endpoints

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        key = _api_key(api_key_env, api_key_stdin)
        if key is None:
            raise InvalidInput(
                "Give the new API key with --api-key-env VARIABLE or --api-key-stdin "
                "(never on the command line)."
            )
        with db.session() as s:
            actor = owner_actor(s, organization_id(s, organization))
            row = endpoints.rotate_key(s, actor, settings, endpoint, key)
            shown = endpoints.endpoint_out(row)["api_key"]
            name = row.name
        console.print(
            f"Stored a new API key for endpoint {escape(name)}: {escape(shown)}.", highlight=False
        )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


@models_app.command("allow")
def allow(
    endpoint: str = typer.Argument(..., help="Endpoint id or name"),
    project: str = typer.Option(..., "--project", help="Project id or exact name"),
    fields: list[str] = typer.Option(
        ..., "--field", help="A task data field the project may send (repeatable)"
    ),
    on_import: str | None = typer.Option(
        None, "--on-import", help="Also ask on every import: predictions or candidates"
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Allow a project to send these task fields to an endpoint (the egress policy)."""
    from labelhouse.cli.common import project_and_actor
    from labelhouse.models_loop import policy

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            name = proj.name
            policy.allow(
                s, actor, endpoint=endpoint, project_id=proj.id, fields=fields, on_import=on_import
            )
        console.print(f"Project {name} may send {', '.join(fields)} to {endpoint}.")
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()


def _ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise typer.BadParameter("give task ids separated by commas, e.g. 12,13,40") from None


@models_app.command("predict")
def predict(
    project: str = typer.Option(..., "--project", help="Project id or exact name"),
    endpoint: str = typer.Option(..., "--endpoint", help="Endpoint id or name"),
    tasks: str | None = typer.Option(None, "--tasks", help="Task ids (default: every task)"),
    kind: str = typer.Option("predictions", "--kind", help="predictions or candidates"),
    fields: list[str] = typer.Option([], "--field", help="Task data field to send (repeatable)"),
    data_dir: Path | None = DataDir,
) -> None:
    """Ask an endpoint for predictions or candidates for the project's tasks.

    Runs here, with progress on standard error; prints the outcome as JSON on standard
    output (exit status 1 if any task failed)."""
    from labelhouse.cli.common import project_and_actor
    from labelhouse.cli.jobs import progress_bar
    from labelhouse.models_loop import calls

    settings = settings_for(data_dir)
    db = open_db(settings)
    try:
        with db.read_session() as s:
            proj, actor = project_and_actor(s, project)
            project_id = proj.id
        ref: int | str = int(endpoint) if endpoint.isdigit() else endpoint
        plan = calls.prepare(
            db,
            settings,
            actor,
            project_id,
            endpoint=ref,
            kind=kind,
            task_ids=_ids(tasks),
            fields=fields or None,
        )
        with progress_bar() as bar:
            task = bar.add_task(f"Asking {endpoint}", total=len(plan.task_ids))
            outcome = calls.run(
                db, settings, plan, on_progress=lambda d, t: bar.update(task, completed=d, total=t)
            )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    echo_json(outcome.as_dict())
    for failure in outcome.failures[: calls.FAILURES_SHOWN]:
        console.print(failure["error"], style="yellow", highlight=False, markup=False)
    if outcome.failures:
        raise typer.Exit(1)


def calls_on_import(
    db: Any, settings: Any, actor: Any, project_id: int, import_id: int
) -> list[dict[str, Any]]:
    """The model calls the project's egress rules ask for on import (docs/models.md), run
    here as an import job runs them (same checks, same audit events), with progress on
    standard error."""
    from labelhouse.cli.jobs import progress_bar
    from labelhouse.jobs import model_calls

    bar: Any = None
    rows: dict[tuple[str, str], Any] = {}

    def on_progress(name: str, kind: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar()
            bar.start()
        if (name, kind) not in rows:
            rows[name, kind] = bar.add_task(f"Asking {escape(name)} for {kind}", total=total)
        bar.update(rows[name, kind], completed=done, total=total)

    try:
        return model_calls.calls_on_import(
            db, settings, actor, project_id, import_id, on_progress=on_progress
        )
    finally:
        if bar is not None:
            bar.stop()


def say_calls_on_import(models: list[dict[str, Any]]) -> None:
    """What the on-import model calls did, on standard error: the import is the result."""
    for m in models:
        if "error" in m:
            console.print(
                f"[yellow]Note:[/] endpoint {escape(str(m['endpoint']))} was not asked for "
                f"{m['kind']}: {escape(m['error'])}",
                soft_wrap=True,
            )
            continue
        console.print(
            f"Asked {escape(m['model_version'])} for {m['kind']} about {m['tasks']:,} new "
            f"tasks: {m['stored']:,} stored, {m['skipped']:,} skipped, {m['failed']:,} failed.",
            soft_wrap=True,
            highlight=False,
        )
        for failure in m["failures"]:
            console.print(failure["error"], style="yellow", highlight=False, markup=False)
