"""``labelhouse tasks``: per-task settings from the command line (priorities)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import typer

from labelhouse.cli.app import App
from labelhouse.cli.common import DataDir, fail, open_db, project_and_actor, settings_for
from labelhouse.cli.output import AsJson, echo_json
from labelhouse.errors import InvalidInput, LabelhouseError, Problem

tasks_app = App(help="Per-task settings: priorities for the queue.", no_args_is_help=True)


def read_priorities(path: Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl file ({"external_id" or "task_id", "priority"} per line) or of a
    .csv file with a header (external_id or task_id, priority)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read {path}: {exc}.") from None
    items: list[dict[str, Any]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "priority" not in reader.fieldnames:
            raise InvalidInput(
                f"{path.name} needs a header naming priority and external_id or task_id."
            )
        for line, row in enumerate(reader, start=2):
            item: dict[str, Any] = {}
            for key in ("external_id", "task_id", "priority"):
                value = (row.get(key) or "").strip()
                if not value:
                    continue
                if key == "external_id":
                    item[key] = value
                else:
                    try:
                        item[key] = int(value)
                    except ValueError:
                        raise InvalidInput(
                            f"{path.name} line {line}: {key} must be an integer.",
                            [Problem(f"line {line}", f"{key} {value!r}")],
                        ) from None
            items.append(item)
        return items
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            items.append(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{path.name} line {line} is not JSON: {exc}.") from None
    return items


@tasks_app.command("prioritize")
def prioritize(
    project: str = typer.Argument(..., help="Project id or exact name"),
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help='.jsonl ({"external_id": "a-1", "priority": 5} per line) or .csv with a header',
    ),
    as_json: bool = AsJson,
    data_dir: Path | None = DataDir,
) -> None:
    """Set task priorities; with queue order `priority` higher ones are served first.

    Prints how many tasks changed (with --json: ``{"project_id", "project", "updated",
    "queue_order", "in_effect"}``); a note on standard error when the project's queue order
    is not ``priority``."""
    from labelhouse.tasks.queue_order import set_priorities

    db = open_db(settings_for(data_dir))
    try:
        items = read_priorities(file)
        with db.session() as s:
            proj, actor = project_and_actor(s, project)
            updated = set_priorities(s, actor, proj.id, items)
            order, project_id, name = proj.queue_order, proj.id, proj.name
    except LabelhouseError as exc:
        raise fail(exc) from None
    finally:
        db.dispose()
    if as_json:
        echo_json(
            {
                "project_id": project_id,
                "project": name,
                "updated": updated,
                "queue_order": order,
                "in_effect": order == "priority",
            }
        )
    else:
        typer.echo(f"Set the priority of {updated:,} tasks.")
    if order != "priority":
        typer.echo(
            f"Note: the project's queue order is '{order}'; priorities take effect once it "
            'is "priority" (settings page, or PATCH /api/projects/{id}).',
            err=True,
        )
