"""What running an export as a background job costs over streaming it: the same export
streamed (bytes counted, nothing written) and as a job (temporary file, SHA-256, stored in
the local folder, the job row updated), and a two-format snapshot, on SQLite.

    .venv/bin/python bench/bench_export_jobs.py              # 50,000 tasks
    .venv/bin/python bench/bench_export_jobs.py --tasks 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine
from tests.factories import add_tasks, make_org, make_project, text_rows

from labelhouse.config import Settings
from labelhouse.db import migrate
from labelhouse.db.engine import open_database
from labelhouse.exports.service import plan_export
from labelhouse.jobs.exports import request_export, request_snapshot
from labelhouse.jobs.runtime import Jobs
from labelhouse.storage import LocalStorage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=50_000)
    n = parser.parse_args().tasks
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp}/labelhouse.db"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    db = open_database(url)
    owner = make_org(db)
    pid = make_project(db, owner)
    add_tasks(db, owner, pid, text_rows(n))
    settings = Settings(data_dir=tmp, database_url=url)
    jobs = Jobs(settings, database=db, storage=LocalStorage(settings.resolved_storage_dir))
    for fmt in ("jsonl", "csv"):
        with db.session() as s:
            plan = plan_export(s, owner.actor, pid, format_name=fmt)
        t = time.perf_counter()
        with db.read_session() as s:
            size = sum(len(c) for c in plan.stream(s))
        streamed = time.perf_counter() - t
        with db.session() as s:
            job = request_export(s, owner.actor, pid, format_name=fmt)
        t = time.perf_counter()
        assert jobs.run(job.id) == "succeeded"
        as_job = time.perf_counter() - t
        print(
            f"{fmt}: {n:,} tasks, {size / 1e6:.1f} MB: streamed {streamed:.2f} s, "
            f"as a job {as_job:.2f} s"
        )
    with db.session() as s:
        _, job = request_snapshot(s, owner.actor, pid, formats=["jsonl", "csv"])
    t = time.perf_counter()
    assert jobs.run(job.id) == "succeeded"
    print(f"snapshot (jsonl + csv + manifest): {time.perf_counter() - t:.2f} s")
    db.dispose()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
