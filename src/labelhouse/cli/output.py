"""Results on standard output, in the two shapes scripts read: aligned plain columns (no
wrapping or box drawing, so ``grep``, ``cut`` and ``awk`` work) and one JSON document
(``--json``: stable keys, times in ISO 8601 UTC). Progress, notes and errors go to standard
error through :data:`labelhouse.cli.common.console`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

AsJson = typer.Option(False, "--json", help="Print JSON (for scripts) instead of a table")


def echo_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def iso(value: datetime | None) -> str | None:
    """A stored time as ISO 8601 in UTC (naive times are UTC already), to the second."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")
