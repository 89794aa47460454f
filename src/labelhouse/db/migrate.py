"""Run Alembic programmatically (``labelhouse serve`` upgrades on start; tests and the CLI too)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def pending_differences(engine: Engine, metadata: Any) -> list[object]:
    """What ``alembic check`` would report: differences between models and the database.

    SQLite's reflection cannot read an index on an expression (``ix_task_status``), so
    Alembic skips those with a warning; here they are checked by name instead (a missing one
    is reported as ``("missing_index", name)``), without the warnings."""
    with engine.connect() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index")
        # ix_task_lane is PostgreSQL's only (``ddl_if``): SQLite never has it.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs: list[object] = list(compare_metadata(ctx, metadata))
        if engine.dialect.name == "sqlite":
            names = set(conn.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'")))
            expected = _expression_indexes(metadata, "sqlite")
            diffs += [("missing_index", name) for name in expected - names]
    return diffs


def _expression_indexes(metadata: Any, dialect: str) -> set[str]:
    """The expression indexes ``dialect`` should have (not those made for another one only)."""
    return {
        index.name
        for table in metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(e, Column) for e in index.expressions)
        and getattr(index._ddl_if, "dialect", None) in (None, dialect)
    }


def revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the scripts' heads): equal when it is up to date."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads
