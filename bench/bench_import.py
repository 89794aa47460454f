"""CLI import benchmark: the whole ``labelhouse import PROJECT FILE`` command, start to exit.

Same workload as the import phase of ``bench_core.py`` (a JSONL file of N text tasks with
external ids, into a one-field choice project), repeated into fresh projects so one noisy
run does not decide. Because the machine is often shared, it prints CPU seconds next to the
wall-clock figures: the command's own user+sys (from the child's rusage) and, on
PostgreSQL, the CPU of the server backend that served it (sampled with psutil).

    .venv/bin/python bench/bench_import.py                       # both databases, 100k, 3 runs
    .venv/bin/python bench/bench_import.py --backend postgresql --repeat 5
    .venv/bin/python bench/bench_import.py --startup             # also a one-row import

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import (
    LABELHOUSE,
    PASSWORD,
    SCHEMA,
    make_file,
    pg_backend_cpu,
    print_table,
    run_cli,
    scratch_pg_database,
)


class BackendCpu:
    """CPU seconds used by PostgreSQL backends of one database while a command runs."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.seen.update(pg_backend_cpu(self.dbname))
            self._stop.wait(0.05)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def _peak_rss(pid: int, peak: list[int], stop: threading.Event) -> None:
    """Keep ``peak[0]`` at the process's VmHWM (its own high-water mark; ``ru_maxrss`` would
    also count the forking parent's) until ``stop``."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as status:
                kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            peak[0] = max(peak[0], kb * 1024)
        except (OSError, StopIteration, ValueError):
            pass  # not exec'd yet, or already gone
        stop.wait(0.05)


def timed_command(args: list[str], env: dict[str, str]) -> tuple[float, float, str, int]:
    """Wall seconds, the child's user+sys CPU seconds, its standard error, and its peak RSS
    in bytes (VmHWM sampled every 50 ms; ``ru_maxrss`` if the command ended too soon)."""
    peak, stop = [0], threading.Event()
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([LABELHOUSE, *args], env=env, stdout=err, stderr=err)
        watch = threading.Thread(target=_peak_rss, args=(proc.pid, peak, stop), daemon=True)
        watch.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        stop.set()
        watch.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text_out = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: exit {proc.returncode}: {text_out}")
    return wall, usage.ru_utime + usage.ru_stime, text_out, peak[0] or usage.ru_maxrss * 1024


def bench_backend(
    name: str, url: str | None, dbname: str | None, n: int, repeat: int, startup: bool
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix=f"lh-bench-import-{name}-"))
    env = {**os.environ, "LABELHOUSE_DATA_DIR": str(tmp), "COLUMNS": "100"}
    if url:
        env["LABELHOUSE_DATABASE_URL"] = url
    run_cli(["users", "create", "owner@bench.local", "--password", PASSWORD], env)
    schema_file = tmp / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    data = tmp / "tasks.jsonl"
    make_file(data, n, "t")
    results: dict[str, object] = {"backend": name, "tasks": n}
    if startup:  # the fixed cost of the command: a one-row file
        one = tmp / "one.jsonl"
        make_file(one, 1, "one")
        pid = run_cli(["projects", "create", "one-row", "--schema", str(schema_file)], env)
        runs = [timed_command(["import", pid, str(one)], env) for _ in range(5)]
        results["one_row_wall_s_min"] = round(min(r[0] for r in runs), 3)
        results["one_row_cpu_s_median"] = round(statistics.median(r[1] for r in runs), 3)
    walls, cpus, backend_cpus, peaks = [], [], [], []
    for i in range(repeat):
        pid = run_cli(["projects", "create", f"import-{i}", "--schema", str(schema_file)], env)
        if dbname:
            with BackendCpu(dbname) as backend:
                wall, cpu, err, peak = timed_command(["import", pid, str(data)], env)
            backend_cpus.append(backend.seconds)
        else:
            wall, cpu, err, peak = timed_command(["import", pid, str(data)], env)
        peaks.append(peak)
        if f"Imported {n:,} new tasks" not in " ".join(err.split()):
            raise RuntimeError(f"import {i} failed: {err}")
        walls.append(wall)
        cpus.append(cpu)
        print(
            f"{name} run {i + 1}: {wall:.2f} s wall, {n / wall:,.0f} tasks/s, "
            f"{cpu:.2f} s CPU (command)"
            + (f", {backend_cpus[-1]:.2f} s CPU (PG backend)" if dbname else ""),
            file=sys.stderr,
        )
    # Re-import of the same file: nothing new.
    wall, cpu, err, _ = timed_command(["import", pid, str(data)], env)
    if f"Imported 0 new tasks from {n:,} rows" not in " ".join(err.split()):
        raise RuntimeError(f"re-import created tasks: {err}")
    best = min(walls)
    return results | {
        "tasks_per_s_best": round(n / best),
        "tasks_per_s_median": round(n / statistics.median(walls)),
        "wall_s_best": round(best, 2),
        "cpu_s_command_median": round(statistics.median(cpus), 2),
        "cpu_s_pg_backend_median": round(statistics.median(backend_cpus), 2) if dbname else "-",
        "reimport_s": round(wall, 2),
        "peak_rss_mb_max": round(max(peaks) / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--startup", action="store_true", help="also time a one-row import")
    args = parser.parse_args()
    rows = []
    if args.backend in ("sqlite", "both"):
        rows.append(bench_backend("sqlite", None, None, args.tasks, args.repeat, args.startup))
    if args.backend in ("postgresql", "both"):
        with scratch_pg_database("labelhouse_bench_import") as (url, dbname):
            rows.append(
                bench_backend("postgresql", url, dbname, args.tasks, args.repeat, args.startup)
            )
    if rows:
        print_table(rows)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
