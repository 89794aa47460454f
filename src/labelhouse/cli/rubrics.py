"""``labelhouse rubrics``: the organization's versioned rubrics (list, create, show, add a
version). Results go to standard output (aligned columns, or JSON with ``--json``);
diagnostics to standard error. A rubric file is JSON or YAML: a list of criteria, or an
object ``{name, description, criteria}``; the rules live in :mod:`labelhouse.rubrics`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import (
    DataDir,
    console,
    fail,
    open_db,
    org_actor,
    read_text,
    settings_for,
)
from labelhouse.cli.output import AsJson, echo_json, echo_table
from labelhouse.cli.people import Organization
from labelhouse.errors import InvalidInput, LabelhouseError, Problem

rubrics_app = App(
    help="Rubrics: versioned scoring guides that rubric fields of label schemas refer to.",
    no_args_is_help=True,
)
RubricRef = typer.Argument(
    ..., help="The rubric's id or exact name (see `labelhouse rubrics list`)"
)
RubricFile = typer.Option(
    ...,
    "--file",
    help="JSON or YAML: a list of criteria, or {name, description, criteria}",
    exists=False,
)


def _read_document(path: Path) -> dict[str, Any]:
    from labelhouse.kinds.registry import load_yaml

    text = read_text(path, "the rubric file")
    document = load_yaml(text, what=f"The rubric file {path} is", where=str(path))
    if isinstance(document, list):
        return {"criteria": document}
    if not isinstance(document, dict) or "criteria" not in document:
        raise InvalidInput(
            f"The rubric file {path} holds no criteria.",
            [Problem("criteria", "write a list of criteria, or an object with 'criteria'")],
        )
    unknown = sorted(set(document) - {"name", "description", "criteria", "note"})
    if unknown:
        raise InvalidInput(
            f"The rubric file {path} has unknown keys.",
            [Problem(k, "allowed keys: name, description, criteria, note") for k in unknown],
        )
    return document


def _show(found: dict[str, Any], version: int | None) -> None:
    versions = [v for v in found["versions"] if version is None or v["version"] == version]
    typer.echo(f"{found['name']} (id {found['id']})")
    for v in versions:
        typer.echo(f"version {v['version']}" + (f" · {v['note']}" if v["note"] else ""))
        echo_table(
            ["CRITERION", "SCALE", "WEIGHT", "CRITICAL", "FAILS BELOW"],
            [
                [
                    c["name"],
                    "pass/fail" if c["scale"] == "pass_fail" else f"{c['min']}-{c['max']}",
                    f"{c['weight']:g}",
                    "yes" if c["critical"] else "no",
                    str(c.get("pass_at", c["min"] + 1)),
                ]
                for c in v["criteria"]
            ],
        )


@rubrics_app.command("list")
def list_command(
    organization: int | None = Organization, as_json: bool = AsJson, data_dir: Path | None = DataDir
) -> None:
    """Every rubric of the organization with its latest version."""
    from labelhouse.rubrics import service

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            found = [
                {"id": r.id, "name": r.name, "latest_version": r.latest_version, "versions": n}
                for r, n in service.list_rubrics(s, org_actor(s, organization))
            ]
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(found)
    elif found:
        rows = [[str(r["id"]), str(r["name"]), str(r["latest_version"])] for r in found]
        echo_table(["ID", "NAME", "LATEST VERSION"], rows)
    else:
        console.print("No rubrics yet: create one with `labelhouse rubrics create --file`.")


@rubrics_app.command("create")
def create_command(
    file: Path = RubricFile,
    name: str | None = typer.Option(None, "--name", help="The rubric's name (else the file's)"),
    organization: int | None = Organization,
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Create a rubric (its version 1) from a file."""
    from labelhouse.rubrics import service

    db = open_db(settings_for(data_dir))
    try:
        document = _read_document(file)
        chosen = name or document.get("name")
        if not isinstance(chosen, str) or not chosen.strip():
            raise InvalidInput(
                "The rubric needs a name.", [Problem("name", "give --name or 'name' in the file")]
            )
        with db.session() as s:
            view = service.create_rubric(
                s,
                org_actor(s, organization),
                name=chosen,
                description=str(document.get("description") or ""),
                criteria=document["criteria"],
                note=str(document.get("note") or ""),
            )
            found = service.as_dict(view)
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(found)
    else:
        typer.echo(f"Created rubric {found['id']} '{found['name']}' version 1.")


@rubrics_app.command("add-version")
def add_version_command(
    rubric: str = RubricRef,
    file: Path = RubricFile,
    organization: int | None = Organization,
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Store a file's criteria as the rubric's next version (older versions never change)."""
    from labelhouse.rubrics import service

    db = open_db(settings_for(data_dir))
    try:
        document = _read_document(file)
        with db.session() as s:
            actor = org_actor(s, organization)
            found = service.find_rubric(s, actor, rubric)
            version = service.add_version(
                s,
                actor,
                found.rubric.id,
                criteria=document["criteria"],
                note=str(document.get("note") or ""),
            )
            out = {"rubric_id": found.rubric.id, **service.version_dict(version)}
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(out)
    else:
        typer.echo(f"Added version {out['version']} to rubric {out['rubric_id']}.")


@rubrics_app.command("show")
def show_command(
    rubric: str = RubricRef,
    version: int | None = typer.Option(None, "--version", min=1, help="Only this version"),
    organization: int | None = Organization,
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """A rubric's versions and their criteria."""
    from labelhouse.rubrics import service

    db = open_db(settings_for(data_dir))
    try:
        with db.read_session() as s:
            found = service.as_dict(service.find_rubric(s, org_actor(s, organization), rubric))
        if version is not None and version > found["latest_version"]:
            raise InvalidInput(
                f"Rubric '{found['name']}' has no version {version}; "
                f"its latest is {found['latest_version']}."
            )
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        if version is not None:
            found["versions"] = [v for v in found["versions"] if v["version"] == version]
        echo_json(found)
    else:
        _show(found, version)
