"""Run Alembic programmatically (``labelhouse serve`` upgrades on start; tests and the CLI too)."""

from __future__ import annotations

import warnings
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

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


def pending_differences(engine: Engine, metadata: object) -> list[object]:
    """What ``alembic check`` would report: differences between models and the database."""
    with engine.connect() as conn, warnings.catch_warnings():
        # ix_task_lane is PostgreSQL's only (``ddl_if``); on SQLite Alembic cannot reflect
        # expression indexes and says so on every comparison, about an index not meant there.
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))  # type: ignore[arg-type]


def revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the scripts' heads): equal when it is up to date."""
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads
