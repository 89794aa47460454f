"""Is the database already at the newest migration? Answered without importing Alembic.

Every command (``serve``, ``import``, …) upgrades the database on start; importing Alembic
(it pulls in Mako and Pygments) cost a fifth of a command's start-up only to learn there was
nothing to do. :mod:`labelhouse.db.migrate` (Alembic) runs whenever this cannot say yes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labelhouse.db.engine import Database

MIGRATION_SCRIPTS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
_HEADER = re.compile(
    r"^(revision|down_revision|branch_labels|depends_on)\b[^=\n]*=[ \t]*(.*?)[ \t]*$", re.MULTILINE
)
_PLAIN = re.compile(r"None|\"([^\"\\]+)\"|'([^'\\]+)'")


def script_heads() -> set[str] | None:
    """The head revisions of the migration scripts, read as text. Scripts in anything but
    the plain generated form (one string revision, one string or None down_revision, no
    branch labels or dependencies) give None, and the caller lets Alembic decide.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in MIGRATION_SCRIPTS.glob("*.py"):
        found: dict[str, list[str | None]] = {}
        for key, value in _HEADER.findall(path.read_text(encoding="utf-8")):
            plain = _PLAIN.fullmatch(value)
            if plain is None:
                return None
            found.setdefault(key, []).append(plain.group(1) or plain.group(2))
        revision, down = found.get("revision", []), found.get("down_revision", [])
        if (
            len(revision) != 1
            or revision[0] is None
            or len(down) != 1
            or any(found.get(key, [None]) != [None] for key in ("branch_labels", "depends_on"))
        ):
            return None
        revisions.add(revision[0])
        if down[0] is not None:
            parents.add(down[0])
    return (revisions - parents) or None


def is_at_head(db: Database) -> bool:
    """Whether the database's Alembic revision is already the scripts' head (no upgrade)."""
    heads = script_heads()
    if heads is None:
        return False
    try:
        with db.read_engine.connect() as conn:  # never takes SQLite's write lock
            current = {
                row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            }
    except Exception:  # no version table yet (a new database), or unreadable: let Alembic decide
        return False
    return current == heads
