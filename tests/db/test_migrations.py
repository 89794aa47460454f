"""Alembic migrations on each backend: a full down/up cycle leaves exactly the models' schema,
and a downgrade to base leaves no Labelhouse table behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError

from labelhouse.accounts.models import Role
from labelhouse.db import migrate
from labelhouse.review import service as review
from labelhouse.review.models import ReviewOutcome
from labelhouse.tables import Base
from labelhouse.tasks import queue
from labelhouse.tasks.models import STATUS_KEY_SQL
from tests.factories import add_member, add_tasks, make_org, make_project, text_rows
from tests.review.test_review import annotate_all, next_id

OUR_TABLES = set(Base.metadata.tables)
HEAD = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A plain engine on the test database, left migrated to head whatever happens (the
    PostgreSQL database is shared by every test of the session)."""
    eng = create_engine(db_url)
    try:
        yield eng
    finally:
        try:
            migrate.upgrade(eng)
        finally:
            eng.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if "alembic_version" not in inspect(conn).get_table_names():
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def audit_triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'audit_event%'"
                )
            )
        else:
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return {r[0] for r in rows}


def test_models_and_migrations_agree_at_head(engine):
    assert revision(engine) == HEAD
    assert tables(engine) >= OUR_TABLES
    assert migrate.pending_differences(engine, Base.metadata) == []


def test_downgrade_upgrade_cycle(engine, backend):
    assert engine.dialect.name == backend

    migrate.downgrade(engine, "base")
    left = tables(engine)
    assert left & OUR_TABLES == set()
    assert left <= {"alembic_version"}
    assert revision(engine) is None
    assert audit_triggers(engine) == set()
    if backend == "postgresql":
        with engine.connect() as conn:
            fn = conn.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only'")
            ).scalar()
        assert fn == 0

    migrate.upgrade(engine, "head")
    assert revision(engine) == HEAD
    assert tables(engine) >= OUR_TABLES
    assert migrate.pending_differences(engine, Base.metadata) == []
    expected_triggers = (
        {"audit_event_no_change"}
        if backend == "postgresql"
        else {"audit_event_no_update", "audit_event_no_delete"}
    )
    assert audit_triggers(engine) == expected_triggers

    migrate.downgrade(engine, "base")
    assert tables(engine) & OUR_TABLES == set()
    assert audit_triggers(engine) == set()

    migrate.upgrade(engine)
    assert revision(engine) == HEAD
    assert tables(engine) >= OUR_TABLES
    assert migrate.pending_differences(engine, Base.metadata) == []


def test_upgrade_is_idempotent_at_head(engine):
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert revision(engine) == HEAD
    assert migrate.pending_differences(engine, Base.metadata) == []


def test_reupgraded_schema_works_and_protects_the_audit_log(engine):
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        org_id = conn.execute(
            text(
                "INSERT INTO organization (name, created_at) VALUES ('X', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO audit_event (organization_id, action, object_type, object_id, details,"
                " created_at, prev_hash, hash) VALUES (:org, 'a', 'b', 'c', '{}', CURRENT_TIMESTAMP,"
                " :z, :z)"
            ),
            {"org": org_id, "z": "0" * 64},
        )
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET action = 'x'"))
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT action FROM audit_event")).scalars().all() == ["a"]


def test_pending_differences_notices_a_drift(engine):
    """The check the cycle relies on is not vacuous: a missing index is reported."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_audit_org_id"))
    try:
        diffs = migrate.pending_differences(engine, Base.metadata)
        assert diffs
        assert any("ix_audit_org_id" in repr(d) for d in diffs)
    finally:
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_audit_org_id ON audit_event (organization_id, id)"))
    assert migrate.pending_differences(engine, Base.metadata) == []


def test_pending_differences_notices_a_missing_expression_index(engine):
    """SQLite cannot reflect an index on an expression; a missing one is still reported."""
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_task_status"))
    try:
        diffs = migrate.pending_differences(engine, Base.metadata)
        assert any("ix_task_status" in repr(d) for d in diffs), diffs
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(f"CREATE INDEX ix_task_status ON task (project_id, {STATUS_KEY_SQL}, id)")
            )
    assert migrate.pending_differences(engine, Base.metadata) == []


def test_each_revision_steps_down_and_up_with_data(engine):
    """Every revision's downgrade and upgrade run on a database holding rows (new NOT NULL
    columns need their server defaults)."""
    with engine.begin() as conn:
        org = conn.execute(
            text(
                "INSERT INTO organization (name, created_at) VALUES ('X', CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO project (organization_id, name, description, instructions, overlap,"
                " lease_seconds, schema_version, archived, created_at) VALUES (:org, 'p', '', '',"
                " 1, 60, 1, false, CURRENT_TIMESTAMP)"
            ),
            {"org": org},
        )
    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    for older in revisions[1:]:
        migrate.downgrade(engine, older)
        assert revision(engine) == older
    migrate.upgrade(engine)
    assert revision(engine) == HEAD
    assert migrate.pending_differences(engine, Base.metadata) == []
    with engine.connect() as conn:
        row = conn.execute(text("SELECT gold_rate, gold_first_n, review_mode FROM project")).one()
    assert (row.gold_rate, row.gold_first_n, row.review_mode) == (0.1, 3, "off")


def partial_indexes(engine: Engine) -> dict[str, str]:
    """Partial indexes and their conditions, as the database has them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE '%WHERE%'"
                )
            ).all()
            return {name: sql.split("WHERE", 1)[1].strip() for name, sql in rows}
        rows = conn.execute(
            text(
                "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indpred IS NOT NULL"
            )
        ).all()
        return dict(rows)


def test_table_rebuilds_keep_partial_indexes_and_foreign_keys(engine):
    """SQLite rebuilds a table to drop a constraint (0005); its partial indexes must keep
    their conditions, or the queue's one-lease rule and the gold index silently widen."""
    at_head = partial_indexes(engine)
    assert {"ix_task_gold", "uq_assignment_one_lease"} <= set(at_head)
    later = {"ix_task_lane"}  # made after 0004 (0023, PostgreSQL only): gone at 0004
    migrate.downgrade(engine, "0004")
    assert partial_indexes(engine) == {k: v for k, v in at_head.items() if k not in later}
    fks = {fk["name"] for fk in inspect(engine).get_foreign_keys("task")}
    assert "fk_task_import_id_task_import" in fks
    migrate.upgrade(engine)
    assert partial_indexes(engine) == at_head
    fks = {fk["name"] for fk in inspect(engine).get_foreign_keys("task")}
    assert "fk_task_import_id_task_import" not in fks


def test_membership_migration_keeps_everyone_in_every_existing_project(engine):
    """0008: nothing changes for an installation until someone edits membership."""
    migrate.downgrade(engine, "0007")
    with engine.begin() as conn:

        def insert(sql: str, **params: object) -> int:
            return conn.execute(text(sql + " RETURNING id"), params).scalar()

        org = insert("INSERT INTO organization (name, created_at) VALUES ('X', CURRENT_TIMESTAMP)")
        other_org = insert(
            "INSERT INTO organization (name, created_at) VALUES ('Y', CURRENT_TIMESTAMP)"
        )
        users = {}
        for name in ("own", "ann", "rev", "stranger"):
            users[name] = insert(
                "INSERT INTO user_account (email, name, password_hash, is_active,"
                " must_change_password, created_at) VALUES (:e, '', NULL, true, false,"
                " CURRENT_TIMESTAMP)",
                e=f"{name}@example.com",
            )
        for name, role, o in [
            ("own", "owner", org),
            ("ann", "annotator", org),
            ("rev", "reviewer", org),
            ("stranger", "annotator", other_org),
        ]:
            insert(
                "INSERT INTO membership (organization_id, user_id, role, created_at)"
                " VALUES (:o, :u, :r, CURRENT_TIMESTAMP)",
                o=o,
                u=users[name],
                r=role,
            )
        projects = [
            insert(
                "INSERT INTO project (organization_id, name, description, instructions, overlap,"
                " lease_seconds, schema_version, archived, created_at) VALUES (:org, :n, '', '',"
                " 1, 60, 1, false, CURRENT_TIMESTAMP)",
                org=org,
                n=f"p{i}",
            )
            for i in range(2)
        ]
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT project_id, user_id, team_id, role FROM project_member")
        ).all()
    expected = {
        (p, users[u], None, role)
        for p in projects
        for u, role in [("own", "manager"), ("ann", "annotator"), ("rev", "reviewer")]
    }
    assert set(map(tuple, rows)) == expected


def test_0013_links_existing_decisions_to_the_revisions_they_judged(engine, db):
    """Decisions made before 0013 get their review_outcome rows (the current revision of
    each judged answer, counted as seen), so the annotators' Returned lists start right."""

    owner = make_org(db)
    a, b = add_member(db, owner), add_member(db, owner)
    reviewer = add_member(db, owner, Role.reviewer)
    pid = make_project(db, owner, overlap=2)
    add_tasks(db, owner, pid, text_rows(2))
    with db.session() as s:
        queue.update_project(s, owner.actor, pid, {"review_mode": "all"})
    annotate_all(db, [a, b], pid, [lambda t: "pos", lambda t: "neg"])
    decided = {}
    for decision in ("reject", "correct"):
        tid = next_id(db, reviewer, pid)
        with db.session() as s:
            extra = {"reason": "no"} if decision == "reject" else {"value": {"label": "pos"}}
            decided[tid] = review.decide(s, reviewer.actor, tid, decision=decision, **extra).id
    with db.read_session() as s:
        before = sorted(
            s.execute(
                select(
                    ReviewOutcome.annotation_id,
                    ReviewOutcome.revision,
                    ReviewOutcome.review_id,
                    ReviewOutcome.outcome,
                )
            ).all()
        )
    assert [o for *_, o in before].count("rejected") == 2 and len(before) == 4
    db.dispose()
    migrate.downgrade(engine, "0012")
    assert "review_outcome" not in tables(engine)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        after = sorted(
            conn.execute(
                text("SELECT annotation_id, revision, review_id, outcome FROM review_outcome")
            ).all()
        )
        unseen = conn.execute(
            text("SELECT count(*) FROM review_outcome WHERE seen_at IS NULL")
        ).scalar()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert unseen == 0
