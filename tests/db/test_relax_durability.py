"""``relax_durability``: only the transaction that asks for it stops waiting for the disk."""

from __future__ import annotations

from sqlalchemy import text

from labelhouse.db.dialect import relax_durability


def test_relaxed_commit_is_local_to_its_transaction(db):
    with db.session() as s:
        relax_durability(s)
        if db.dialect == "postgresql":
            assert s.execute(text("SHOW synchronous_commit")).scalar() == "off"
        else:  # nothing to relax: WAL with synchronous=NORMAL (1) never waits at commit
            assert s.execute(text("PRAGMA synchronous")).scalar() == 1
    with db.session() as s:
        if db.dialect == "postgresql":
            assert s.execute(text("SHOW synchronous_commit")).scalar() == "on"
