"""A large CLI import while annotators work (issue 12, item 2).

Starts ``labelhouse serve``, seeds a project with work, lets N annotator processes do
next+submit pairs over HTTP, then runs ``labelhouse import`` of a large file into the same
project as a subprocess, and keeps the annotators going until a while after it has finished.
Prints, before / during / after the import: the annotators' pairs per second, the pair
latency p50 / p99 / max, errors (503s and the like), and the longest stretch in which no
pair completed; and the import's own duration. Then checks that no task was over-assigned
and that the import arrived whole.

    .venv/bin/python bench/bench_import_while_annotating.py                  # SQLite, 1M rows
    .venv/bin/python bench/bench_import_while_annotating.py --tasks 200000 --phase 5
    .venv/bin/python bench/bench_import_while_annotating.py --backend postgresql

To measure another checkout's code, put its ``src`` first: ``PYTHONPATH=/path/src``
(the server and the CLI are started with the same environment).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench_core import LightClient, Server, token_for
from common import LABELHOUSE, PASSWORD, SCHEMA, make_file, run_cli, scratch_pg_database

Record = tuple[float, float, str]  # (finished at, seconds, "ok" | "empty" | "error: …")


def _annotator(args: tuple[str, str, int, Any, Any]) -> list[Record]:
    """next+submit pairs until told to stop; every pair's end time, latency and outcome."""
    base, token, pid, start, stop = args
    records: list[Record] = []
    client = LightClient(base, token)
    client.sock.settimeout(300)
    start.wait()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            task = client.post(f"/api/projects/{pid}/next")["task"]
            if task is None:
                records.append((time.monotonic(), time.monotonic() - t0, "empty"))
                time.sleep(0.05)
                continue
            client.post(
                f"/api/tasks/{task['id']}/annotations",
                {"value": {"label": "pos"}, "lead_time_ms": 900},
            )
            records.append((time.monotonic(), time.monotonic() - t0, "ok"))
        except (RuntimeError, OSError) as exc:
            records.append((time.monotonic(), time.monotonic() - t0, f"error: {exc}"[:120]))
            client.close()
            client = LightClient(base, token)
            client.sock.settimeout(300)
    client.close()
    return records


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summarize(records: list[Record], start: float, end: float) -> dict[str, object]:
    window = [r for r in records if start <= r[0] < end]
    ok = [r for r in window if r[2] == "ok"]
    lat = [r[1] * 1000 for r in ok]
    ends = sorted([start, *(r[0] for r in ok), end])
    gap = max(b - a for a, b in itertools.pairwise(ends))
    return {
        "seconds": round(end - start, 1),
        "pairs": len(ok),
        "pairs_per_s": round(len(ok) / (end - start), 1),
        "p50_ms": round(statistics.median(lat), 1) if lat else "-",
        "p99_ms": round(_percentile(lat, 0.99), 1) if lat else "-",
        "max_ms": round(max(lat), 1) if lat else "-",
        "errors": sum(1 for r in window if r[2].startswith("error")),
        "empty_queue": sum(1 for r in window if r[2] == "empty"),
        "longest_stall_s": round(gap, 2),
    }


def run(name: str, url: str | None, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"lh-bench-import-while-{name}-"))
    try:
        measure(name, url, args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a million-row database


def measure(name: str, url: str | None, args: argparse.Namespace, tmp: Path) -> None:
    env = {**os.environ, "LABELHOUSE_DATA_DIR": str(tmp), "LABELHOUSE_OWNER_EMAIL": "o@b.local"}
    if url:
        env["LABELHOUSE_DATABASE_URL"] = url
    run_cli(["users", "create", "o@b.local", "--password", PASSWORD], env)
    people = [f"a{i}@b.local" for i in range(args.annotators)]
    for email in people:
        run_cli(["users", "create", email, "--role", "annotator", "--password", PASSWORD], env)
    schema = tmp / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    pid = int(run_cli(["projects", "create", "work", "--schema", str(schema)], env))
    run_cli(["members", "add", str(pid), *people, "--role", "annotator"], env)
    seed, big = tmp / "seed.jsonl", tmp / "big.jsonl"
    make_file(seed, args.seed, "s")
    make_file(big, args.tasks, "t")
    run_cli(["import", str(pid), str(seed)], env)

    server = Server(env, args.workers)
    try:
        tokens = [token_for(env, e, server.base) for e in people]
        ctx = multiprocessing.get_context("fork")
        manager = ctx.Manager()
        start, stop = manager.Event(), manager.Event()
        with ctx.Pool(len(tokens)) as pool:
            pending = pool.map_async(
                _annotator, [(server.base, t, pid, start, stop) for t in tokens]
            )
            time.sleep(1.0)
            start.set()
            t_start = time.monotonic()
            time.sleep(args.phase)
            t_import = time.monotonic()
            with tempfile.TemporaryFile() as err:
                proc = subprocess.run(
                    [LABELHOUSE, "import", str(pid), str(big)], env=env, stdout=err, stderr=err
                )
                t_imported = time.monotonic()
                err.seek(0)
                import_output = err.read().decode(errors="replace")
            time.sleep(args.phase)
            t_end = time.monotonic()
            stop.set()
            records = [r for per in pending.get(timeout=600) for r in per]
        manager.shutdown()
    finally:
        server.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"the import failed: {import_output[-2000:]}")
    imported = t_imported - t_import
    phases = {
        "before": summarize(records, t_start, t_import),
        "during": summarize(records, t_import, t_imported),
        "after": summarize(records, t_imported, t_end),
    }
    engine = create_engine(url or f"sqlite:///{tmp / 'labelhouse.db'}")
    with engine.connect() as conn:
        tasks = conn.execute(text("SELECT count(*) FROM task")).scalar()
        over = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT a.task_id FROM annotation a JOIN project p "
                "ON p.id = a.project_id GROUP BY a.task_id, p.overlap "
                "HAVING count(*) > p.overlap) x"
            )
        ).scalar()
    engine.dispose()
    print(
        f"\n{name}: import of {args.tasks:,} rows (CLI subprocess) while {len(tokens)} annotators "
        f"work over HTTP (serve --workers {args.workers}); project seeded with {args.seed:,} tasks"
    )
    print(f"import: {imported:.1f} s, {args.tasks / imported:,.0f} tasks/s")
    keys = list(phases["before"])
    print("".ljust(18) + "".join(p.rjust(12) for p in phases))
    for k in keys:
        print(k.ljust(18) + "".join(str(phases[p][k]).rjust(12) for p in phases))
    print(f"tasks stored: {tasks:,} (expected {args.seed + args.tasks:,}); over-assigned: {over}")
    slow = sorted((r for r in records if r[2] == "ok"), key=lambda r: -r[1])[:5]
    print(
        "slowest pairs (s after the import started: ms):",
        ", ".join(f"{r[0] - r[1] - t_import:.1f}: {r[1] * 1000:.0f}" for r in slow),
    )
    errors = sorted({r[2] for r in records if r[2].startswith("error")})
    if errors:
        print("errors seen:", *errors[:5], sep="\n  ")
    if tasks != args.seed + args.tasks or over:
        sys.exit("FAILED: the import did not arrive whole, or a task was over-assigned")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1_000_000, help="rows in the import")
    parser.add_argument("--seed", type=int, default=50_000, help="tasks to annotate beforehand")
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds before and after")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    scratch = (
        scratch_pg_database("labelhouse_bench_import_while")
        if args.backend == "postgresql"
        else nullcontext((None, None))
    )
    with scratch as (url, _):
        run(args.backend, url, args)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
