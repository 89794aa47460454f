"""Profile the annotator hot path (claim + submit) in-process, without HTTP.

    .venv/bin/python bench/profile_hot_path.py [--pairs 500] [--profile] [--pg URL]

Prints service milliseconds per next+submit pair on SQLite (or an empty PostgreSQL database)
and, with --profile, the top of a cProfile report, to show where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.factories import add_member, make_org, make_project

from labelhouse.accounts import passwords
from labelhouse.annotations import service as annotations
from labelhouse.db import migrate
from labelhouse.db.engine import open_database
from labelhouse.tasks import queue
from labelhouse.tasks.importer import import_tasks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--pg", metavar="URL", help="an empty PostgreSQL database to use instead of SQLite"
    )
    args = parser.parse_args()
    passwords.use_profile("cheapest")
    url = args.pg or f"sqlite:///{tempfile.mkdtemp()}/hot.db"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    db = open_database(url)
    owner = make_org(db)
    pid = make_project(db, owner)
    rows = b"".join(orjson.dumps({"text": f"row {i}"}) + b"\n" for i in range(args.pairs * 3))
    with db.session() as s:
        import_tasks(s, owner.actor, pid, io.BytesIO(rows), filename="t.jsonl")
    member = add_member(db, owner)

    def loop(n: int) -> None:
        for _ in range(n):
            with db.session() as s:
                lease = queue.claim_next(s, member.actor, pid)
                assert lease is not None
                task_id = lease.task.id
            with db.session() as s:
                annotations.save(s, member.actor, task_id, value={"label": "pos"})

    loop(50)
    t0, c0 = time.perf_counter(), time.process_time()
    loop(args.pairs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"service ms per next+submit pair: {wall / args.pairs * 1000:.2f} wall, "
        f"{cpu / args.pairs * 1000:.2f} CPU (CPU is the steadier figure on a busy machine)"
    )
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        loop(args.pairs)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(30)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
