"""Quality analysis at scale: N tasks x K answers (a crowd with a true label per task and
annotators of accuracy 0.55-0.95), SQLite or PostgreSQL.

Measures, per consensus method, in this process (CPU seconds and wall seconds):
- ``direct``: the quality report and one consensus page computed from the answers, which
  is what every request cost before the analysis was stored (and what the code at HEAD
  does: run this script with that tree on PYTHONPATH for the "before" figures);
- ``recompute``: computing and storing the analysis (what the background job does);
- ``stored``: the quality report and a consensus page read from the stored analysis
  (median of 5), the watermark check included;
and, in a separate process each, the peak RSS of a JSONL export with majority consensus,
from the stored analysis and without one, beside the raw export's.

    PYTHONPATH=src .venv/bin/python bench/bench_analysis.py                 # SQLite, 100k x 3
    PYTHONPATH=src .venv/bin/python bench/bench_analysis.py --backend postgresql

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from bench_export import measure as measure_export
from common import ROOT, SCHEMA, print_table, scratch_pg_database

sys.path.insert(0, str(ROOT))

CLASSES = ["pos", "neg", "neu"]


def build(url: str, n_tasks: int, answers: int) -> tuple[int, int]:
    """A migrated database with one project whose tasks each have ``answers`` submitted
    answers from a pool of 30 annotators of varied accuracy; (project id, owner id)."""
    from tests.factories import add_member, jsonl, make_org, make_project

    from labelhouse.accounts import passwords
    from labelhouse.annotations.models import Annotation
    from labelhouse.db import migrate
    from labelhouse.db.base import utcnow
    from labelhouse.db.engine import open_database
    from labelhouse.tasks.importer import import_tasks
    from labelhouse.tasks.models import Task

    passwords.use_profile("cheapest")
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    db = open_database(url)
    owner = make_org(db)
    members = [add_member(db, owner).actor.user_id for _ in range(30)]
    rng = random.Random(7)
    accuracy = {m: rng.uniform(0.55, 0.95) for m in members}
    pid = make_project(db, owner, schema=SCHEMA, overlap=answers)
    rows = [{"text": f"Review {i}: fine, shipped in {i % 9 + 1} days."} for i in range(n_tasks)]
    with db.session() as s:
        import_tasks(s, owner.actor, pid, io.BytesIO(jsonl(rows)), filename="t.jsonl")

    def label(truth: str, member: int) -> str:
        if rng.random() < accuracy[member]:
            return truth
        return rng.choice([c for c in CLASSES if c != truth])

    now = utcnow()
    with db.session() as s:
        ids = s.scalars(Task.__table__.select().with_only_columns(Task.id)).all()
        for start in range(0, len(ids), 20_000):
            batch = []
            for task_id in ids[start : start + 20_000]:
                truth = rng.choice(CLASSES)
                for user in rng.sample(members, answers):
                    batch.append(
                        {
                            "project_id": pid,
                            "task_id": task_id,
                            "user_id": user,
                            "status": "submitted",
                            "value": {"label": label(truth, user)},
                            "schema_version": 1,
                            "revision": 1,
                            "lead_time_ms": rng.randint(500, 20_000),
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
            s.execute(insert(Annotation.__table__), batch)
        s.execute(Task.__table__.update().values(taken=answers, done=answers, is_open=False))
    db.dispose()
    return pid, owner.actor.user_id


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.3f}/{pair[1]:.3f}"


def export_rss(url: str, pid: int, uid: int, content: str) -> tuple[float, int]:
    """Seconds and peak RSS of a JSONL export in a fresh process (bench_export's probe)."""
    seconds, _size, rss = measure_export(url, pid, uid, content)
    return seconds, rss


def measure(url: str, pid: int, uid: int, methods: list[str]) -> dict[str, object]:
    from labelhouse.accounts import service as accounts
    from labelhouse.db.engine import open_database
    from labelhouse.quality_report import service as quality

    db = open_database(url)
    stored = hasattr(quality, "refresh_analysis")  # False: the code before this change
    result: dict[str, object] = {"stored_analysis": stored}

    def call(fn: Callable[..., Any], **kw: Any) -> Callable[[], Any]:
        def run() -> Any:
            with db.read_session() as s:
                actor = accounts.actor_for(s, user_id=uid)
                return fn(s, actor, pid, **kw)

        return run

    middle = {"after_id": 50_000}
    for method in methods:
        extra = {"fresh": True} if stored else {}
        result[f"{method}_direct_report_s"] = fmt(
            timed(call(quality.project_report, method=method, **extra))
        )
        result[f"{method}_direct_page_s"] = fmt(
            timed(call(quality.consensus_page, method=method, **middle, **extra))
        )
        if not stored:
            continue
        result[f"{method}_recompute_s"] = fmt(
            timed(call(quality.project_report, method=method, fresh=True, db=db))
        )
        for name, fn, kw in (
            ("report", quality.project_report, {}),
            ("page", quality.consensus_page, middle),
        ):
            runs = [timed(call(fn, method=method, db=db, **kw)) for _ in range(5)]
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            result[f"{method}_stored_{name}_s"] = fmt((cpu, wall))
    for content in ("raw", "both"):
        seconds, rss = export_rss(url, pid, uid, content)
        label = "stored" if stored and content == "both" else "direct"
        result[f"export_{content}_{label}_rss_mb"] = round(rss / 1e6)
        result[f"export_{content}_{label}_s"] = round(seconds, 2)
    if stored:
        from labelhouse.quality_report import stored as stored_analysis

        with db.session() as s:
            stored_analysis.forget(s, pid)
        seconds, rss = export_rss(url, pid, uid, "both")
        result["export_both_direct_rss_mb"] = round(rss / 1e6)
        result["export_both_direct_s"] = round(seconds, 2)
    db.dispose()
    return result


def bench(name: str, url: str, n_tasks: int, answers: int, methods: list[str]) -> dict[str, object]:
    t0 = time.perf_counter()
    pid, uid = build(url, n_tasks, answers)
    result: dict[str, object] = {"backend": name, "tasks": n_tasks, "answers": n_tasks * answers}
    result["build_s"] = round(time.perf_counter() - t0, 1)
    result.update(measure(url, pid, uid, methods))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--answers", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--methods", nargs="+", default=["majority", "dawid_skene"])
    args = parser.parse_args()
    results = []
    print("figures: CPU s / wall s", file=sys.stderr)
    if args.backend in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp(prefix="lh-bench-analysis-")) / "bench.db"
        results.append(bench("sqlite", f"sqlite:///{path}", args.tasks, args.answers, args.methods))
    if args.backend in ("postgresql", "both"):
        with scratch_pg_database("labelhouse_bench_analysis") as (url, _):
            results.append(bench("postgresql", url, args.tasks, args.answers, args.methods))
    print_table(results)
    print(json.dumps(results))


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
