"""``labelhouse backup`` of a big SQLite installation while annotators write: MB/s, and how
long the writers stall.

Builds (or reuses, ``--keep``) the database of ``bench_db_check.py``: one project of
``--tasks`` tasks (default 1,000,000: 800,000 submitted annotations with their revisions,
about 480 MB). Then ``--writers`` threads in this process act as a server's annotators
(claim a task, submit it: the domain functions, each a write transaction through the write
gate), first alone for a baseline window, then while the real CLI, in its own process as an
operator would run it, backs the installation up. It prints the backup's speed; the
writers' throughput, median, 99th percentile and longest write, and the longest gap between
two commits, in both windows; the WAL file's size before and after the backup (the WAL
cannot be reset while the backup's snapshot is held, so it grows by what is written
meanwhile); and the time ``labelhouse restore`` takes for the same backup.

    .venv/bin/python bench/bench_backup.py                     # 1,000,000 tasks
    .venv/bin/python bench/bench_backup.py --keep /tmp/big.db  # reuse the file next time
    .venv/bin/python bench/bench_backup.py --tasks 200000
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import select

from bench_db_check import ANNOTATORS, build, migrated
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import User
from labelhouse.annotations import service as annotations
from labelhouse.db.engine import open_database
from labelhouse.tasks import queue

CLI = [sys.executable, "-c", "from labelhouse.cli.main import app; app()"]


class Writers:
    """Annotator threads: claim, submit, repeat; every write's end time and duration."""

    def __init__(self, url: str, project: int, n: int) -> None:
        self.db = open_database(url)
        self.project = project
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.writes: list[tuple[float, float]] = []  # (ended at, seconds)
        self.errors: list[BaseException] = []
        with self.db.read_session() as s:
            users = s.scalars(
                select(User.id).where(User.email.in_([f"a{i}@x.org" for i in range(n)]))
            ).all()
            self.actors = [accounts.actor_for(s, user_id=u) for u in users]
        self.threads = [threading.Thread(target=self._run, args=(a,)) for a in self.actors]

    def _timed(self, work) -> object:
        started = time.perf_counter()
        out = work()
        ended = time.perf_counter()
        with self.lock:
            self.writes.append((ended, ended - started))
        return out

    def _claim(self, actor):
        with self.db.session() as s:
            return queue.claim_next(s, actor, self.project)

    def _submit(self, actor, task_id: int) -> None:
        with self.db.session() as s:
            annotations.save(s, actor, task_id, value={"label": "pos"}, lead_time_ms=3000)

    def _run(self, actor) -> None:
        try:
            while not self.stop.is_set():
                lease = self._timed(lambda: self._claim(actor))
                if lease is None:
                    return
                self._timed(lambda: self._submit(actor, lease.task.id))  # noqa: B023
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        self.db.dispose()
        if self.errors:
            raise self.errors[0]

    def slow(self, start: float, end: float, over: float) -> list[str]:
        with self.lock:
            return [
                f"{began - start:.2f} ({1000 * took:.0f} ms)"
                for began, took in sorted((e - d, d) for e, d in self.writes)
                if start <= began <= end and took > over
            ]

    def window(self, start: float, end: float) -> dict[str, float]:
        with self.lock:
            inside = sorted(w for w in self.writes if start <= w[0] <= end)
        ends = [start] + [w[0] for w in inside] + [end]
        durations = [w[1] for w in inside]
        return {
            "writes/s": len(inside) / (end - start),
            "median ms": 1000 * statistics.median(durations) if durations else 0.0,
            "p99 ms": 1000 * statistics.quantiles(durations, n=100)[98]
            if len(durations) > 1
            else 0.0,
            "longest write ms": 1000 * max(durations, default=0.0),
            "longest gap ms": 1000 * max(b - a for a, b in itertools.pairwise(ends)),
        }


def run(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    out = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {out.stderr}")
    return time.perf_counter() - started, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--writers", type=int, default=4, choices=range(1, ANNOTATORS + 1))
    ap.add_argument("--baseline", type=float, default=8.0, help="seconds of writers alone")
    ap.add_argument("--keep", type=Path, help="build into this file once, reuse it later")
    args = ap.parse_args()
    passwords.use_profile("cheapest")
    with tempfile.TemporaryDirectory(prefix="lh-backup-") as tmp:
        path = args.keep or Path(tmp) / "big.db"
        url = f"sqlite:///{path}"
        if path.exists():
            print(f"reusing {path} (delete it to build again)")
        else:
            t0 = time.perf_counter()
            migrated(url)
            build(url, args.tasks)
            print(f"built {args.tasks:,} tasks in {time.perf_counter() - t0:.0f} s")
        size = path.stat().st_size
        print(f"database: {size / 1e6:,.0f} MB")
        env = {**os.environ, "LABELHOUSE_DATABASE_URL": url, "LABELHOUSE_DATA_DIR": tmp}

        writers = Writers(url, project=1, n=args.writers)
        writers.start()
        try:
            time.sleep(2.0)  # warm up
            base_start = time.perf_counter()
            time.sleep(args.baseline)
            base_end = during_start = time.perf_counter()
            wal = Path(f"{path}-wal")
            wal_before = wal.stat().st_size / 1e6 if wal.exists() else 0.0
            backup = Path(tmp) / "backup"
            elapsed, out = run(["backup", str(backup)], env)
            during_end = time.perf_counter()
            wal_after = wal.stat().st_size / 1e6 if wal.exists() else 0.0
            time.sleep(1.0)
        finally:
            writers.finish()
        copied = next(line for line in out.stderr.splitlines() if line.startswith("Copied"))
        print(
            f"labelhouse backup ({args.writers} writers busy): {elapsed:.1f} s in all, "
            f"{size / 1e6 / elapsed:,.0f} MB/s of database per wall second"
        )
        print(f"  {copied}")
        print(f"  WAL file: {wal_before:,.1f} MB before the backup, {wal_after:,.1f} MB after")
        base = writers.window(base_start, base_end)
        during = writers.window(during_start, during_end)
        slow = writers.slow(during_start, during_end, 0.1)
        print(f"  writes over 100 ms during the backup (seconds after its start): {slow or 'none'}")
        print(f"{'writers':<18}{'alone':>12}{'during backup':>16}")
        for key in base:
            print(f"{key:<18}{base[key]:>12,.1f}{during[key]:>16,.1f}")

        restored = Path(tmp) / "restored"
        elapsed, _ = run(
            ["restore", str(backup), "--data-dir", str(restored)],
            env={k: v for k, v in env.items() if k != "LABELHOUSE_DATABASE_URL"},
        )
        print(
            f"labelhouse restore (checksums, counts, rename): {elapsed:.1f} s, "
            f"{size / 1e6 / elapsed:,.0f} MB/s"
        )


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
