"""Core platform benchmark: import, work queue, export — on SQLite and PostgreSQL.

Builds a text-classification project of N tasks (default 100,000) and prints:
CLI import tasks/s, API import tasks/s, next+submit latency p50/p99 for one annotator,
next+submit pairs/s with 8 concurrent annotators (+ over-assignments, must be 0),
export seconds and the server's peak RSS. Headline: the server's CPU per pair (all serve
processes), the PostgreSQL backends' and the load generator's, beside the wall-clock
figures, which follow the machine's load.

    .venv/bin/python bench/bench_core.py                 # both databases, 100k tasks
    .venv/bin/python bench/bench_core.py --backend sqlite --tasks 20000

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psutil
from sqlalchemy import create_engine, text

from common import (
    LABELHOUSE,
    PASSWORD,
    SCHEMA,
    cpu_since,
    make_file,
    pg_backend_cpu,
    print_table,
    run_cli,
    scratch_pg_database,
    tree_cpu_seconds,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [LABELHOUSE, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 120  # a loaded 2-core machine starts 4 workers slowly
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            self.proc.terminate()
            raise RuntimeError("server did not start: " + self.proc.stderr.read().decode()[-2000:])
        self.peak_rss = 0
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)
        self._watch.start()

    def _tree(self) -> list[psutil.Process]:
        try:
            p = psutil.Process(self.proc.pid)
            return [p, *p.children(recursive=True)]
        except psutil.Error:
            return []

    @staticmethod
    def _rss_of(procs: list[psutil.Process]) -> int:
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def rss(self) -> int:
        return self._rss_of(self._tree())

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def _sample(self) -> None:
        """Peak RSS every 20 ms; the process tree is listed once a second, since listing
        it scans all of /proc (3 ms: 15 % of a core at this rate, on the measured cores)."""
        procs: list[psutil.Process] = []
        listed = 0.0
        while not self._stop.is_set():
            if time.monotonic() - listed > 1.0:
                procs, listed = self._tree(), time.monotonic()
            self.peak_rss = max(self.peak_rss, self._rss_of(procs))
            time.sleep(0.02)

    def reset_peak(self) -> None:
        self.peak_rss = self.rss()

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def token_for(env: dict[str, str], email: str, base: str) -> str:
    r = httpx.post(base + "/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    c = httpx.Client(
        base_url=base, cookies=r.cookies, headers={"x-csrf-token": r.json()["csrf_token"]}
    )
    tok = c.post("/api/me/tokens", json={"name": "bench"}).json()["token"]
    c.close()
    return tok


class LightClient:
    """A keep-alive HTTP/1.1 client on a bare socket, for the load generator.

    The eight annotator processes share the two cores with the server, so they must cost as
    little CPU per request as possible: the stdlib's http.client parses every response's
    headers with the email package, which made the clients use more CPU than the server
    (~1.7 ms per request). This one writes a fixed request head and reads Content-Length
    framed responses, which is all the server sends on these endpoints."""

    def __init__(self, base: str, token: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.buffer = b""

    def _read_response(self) -> tuple[int, bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, rest = self.buffer[:end], self.buffer[end + 4 :]
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.buffer = rest
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def post(self, path: str, body: object = None) -> dict:
        payload = orjson.dumps(body) if body is not None else b""
        request = f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(payload)}\r\n\r\n"
        self.sock.sendall(request.encode() + payload)
        status, data = self._read_response()
        if status >= 400:
            raise RuntimeError(f"{path}: {status} {data[:300]!r}")
        return orjson.loads(data)

    def close(self) -> None:
        self.sock.close()


def annotate_loop(
    base: str, token: str, pid: int, limit: int, latencies: list[float] | None
) -> int:
    """The two-call protocol: POST /next, then POST the annotation."""
    done = 0
    c = LightClient(base, token)
    try:
        while done < limit:
            t0 = time.perf_counter()
            task = c.post(f"/api/projects/{pid}/next")["task"]
            if task is None:
                break
            c.post(
                f"/api/tasks/{task['id']}/annotations",
                {"value": {"label": "pos"}, "lead_time_ms": 900},
            )
            if latencies is not None:
                latencies.append(time.perf_counter() - t0)
            done += 1
    finally:
        c.close()
    return done


def annotate_loop_one_trip(base: str, token: str, pid: int, limit: int) -> int:
    """The annotate page's protocol: each submit also returns the next task (?next=1)."""
    done = 0
    c = LightClient(base, token)
    try:
        task = c.post(f"/api/projects/{pid}/next")["task"]
        while task is not None and done < limit:
            body = c.post(
                f"/api/tasks/{task['id']}/annotations?next=1",
                {"value": {"label": "pos"}, "lead_time_ms": 900},
            )
            task = body["next"]["task"] if body.get("next") else None
            done += 1
    finally:
        c.close()
    return done


def _proc_loop(args: tuple[str, str, int, int, object, bool]) -> tuple[int, float]:
    """One annotator: (pairs done, this client process's CPU seconds for them)."""
    base, token, pid, limit, start, one_trip = args
    start.wait()  # type: ignore[attr-defined]
    cpu0 = time.process_time()
    if one_trip:
        done = annotate_loop_one_trip(base, token, pid, limit)
    else:
        done = annotate_loop(base, token, pid, limit, None)
    return done, time.process_time() - cpu0


def run_annotators(
    base: str, tokens: list[str], pid: int, per: int, *, one_trip: bool
) -> tuple[int, float, float]:
    """One process per annotator, all released at once; returns (pairs done, seconds, the
    load generator's own CPU seconds) — the clients share the cores with the server, so
    their cost is reported beside the server's."""
    ctx = multiprocessing.get_context("fork")
    start = ctx.Manager().Event()
    with ctx.Pool(len(tokens)) as pool:
        pending = pool.map_async(_proc_loop, [(base, t, pid, per, start, one_trip) for t in tokens])
        time.sleep(0.5)
        t0 = time.perf_counter()
        start.set()
        done = pending.get(timeout=600)
        seconds = time.perf_counter() - t0
        return sum(d for d, _ in done), seconds, sum(c for _, c in done)


def bench_backend(
    name: str, url: str | None, n: int, workers: int, dbname: str | None = None
) -> dict[str, object]:
    """The whole run on one database; ``dbname`` (PostgreSQL) adds the database backends'
    CPU per pair beside the app's."""
    tmp = Path(tempfile.mkdtemp(prefix=f"lh-bench-{name}-"))
    env = {
        **os.environ,
        "LABELHOUSE_DATA_DIR": str(tmp),
        "LABELHOUSE_OWNER_EMAIL": "owner@bench.local",
    }
    if url:
        env["LABELHOUSE_DATABASE_URL"] = url
    results: dict[str, object] = {"backend": name, "tasks": n}
    run_cli(["users", "create", "owner@bench.local", "--password", PASSWORD], env)
    annotators = [f"a{i}@bench.local" for i in range(9)]
    for email in annotators:
        run_cli(["users", "create", email, "--role", "annotator", "--password", PASSWORD], env)
    schema_file = tmp / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    cli_pid = run_cli(["projects", "create", "cli-import", "--schema", str(schema_file)], env)
    api_pid = int(run_cli(["projects", "create", "api-import", "--schema", str(schema_file)], env))
    # access follows the project: the annotators work in the API-imported one
    run_cli(["members", "add", str(api_pid), *annotators, "--role", "annotator"], env)
    data = tmp / "tasks.jsonl"
    make_file(data, n, "t")

    t0 = time.perf_counter()
    run_cli(["import", cli_pid, str(data)], env)
    cli_s = time.perf_counter() - t0
    results["cli_import_tasks_per_s"] = round(n / cli_s)
    results["cli_import_s"] = round(cli_s, 2)

    server = Server(env, workers)
    try:
        owner_token = token_for(env, "owner@bench.local", server.base)
        owner = httpx.Client(
            base_url=server.base, headers={"authorization": f"Bearer {owner_token}"}, timeout=600
        )
        with data.open("rb") as f:
            t0 = time.perf_counter()
            r = owner.post(f"/api/projects/{api_pid}/import?format=jsonl", content=f)
            api_s = time.perf_counter() - t0
        r.raise_for_status()
        assert r.json()["created"] == n, r.text
        results["api_import_tasks_per_s"] = round(n / api_s)
        results["api_import_s"] = round(api_s, 2)
        # re-import is idempotent (and how fast the no-op is)
        with data.open("rb") as f:
            r = owner.post(f"/api/projects/{api_pid}/import?format=jsonl", content=f)
        results["reimport_created"] = r.json()["created"]

        tokens = [token_for(env, e, server.base) for e in annotators]
        latencies: list[float] = []
        cpu_before = server.cpu_seconds()
        annotate_loop(server.base, tokens[0], api_pid, 1000, latencies)
        results["one_annotator_server_cpu_ms_per_pair"] = round(
            (server.cpu_seconds() - cpu_before) / len(latencies) * 1000, 2
        )
        latencies.sort()
        results["next_submit_p50_ms"] = round(statistics.median(latencies) * 1000, 2)
        results["next_submit_p99_ms"] = round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)

        per = 500
        cpu_before = server.cpu_seconds()
        db_before = pg_backend_cpu(dbname) if dbname else {}
        machine_before = psutil.cpu_times()
        pairs, seconds, client_cpu = run_annotators(
            server.base, tokens[1:], api_pid, per, one_trip=False
        )
        results["concurrent8_pairs_per_s"] = round(pairs / seconds)
        results["server_cpu_ms_per_pair"] = round(
            (server.cpu_seconds() - cpu_before) / pairs * 1000, 2
        )
        results["db_cpu_ms_per_pair"] = (
            round(cpu_since(db_before, pg_backend_cpu(dbname)) / pairs * 1000, 2) if dbname else "-"
        )
        results["client_cpu_ms_per_pair"] = round(client_cpu / pairs * 1000, 2)
        machine_after = psutil.cpu_times()
        busy = sum(
            getattr(machine_after, f) - getattr(machine_before, f)
            for f in ("user", "system", "nice", "softirq", "irq")
        )
        idle = (machine_after.idle - machine_before.idle) + (
            machine_after.iowait - machine_before.iowait
        )
        results["machine_cpu_busy_pct"] = round(100 * busy / (busy + idle))
        results["concurrent8_pairs"] = pairs
        # The same with the annotate page's one-round-trip protocol (submit returns the next).
        cpu_before = server.cpu_seconds()
        pairs, seconds, _ = run_annotators(server.base, tokens[1:], api_pid, per, one_trip=True)
        results["concurrent8_one_trip_pairs_per_s"] = round(pairs / seconds)
        results["one_trip_server_cpu_ms_per_pair"] = round(
            (server.cpu_seconds() - cpu_before) / pairs * 1000, 2
        )

        server.reset_peak()
        t0 = time.perf_counter()
        size = 0
        with owner.stream("GET", f"/api/projects/{api_pid}/export?format=jsonl") as resp:
            for chunk in resp.iter_bytes():
                size += len(chunk)
        results["export_s"] = round(time.perf_counter() - t0, 2)
        results["export_mb"] = round(size / 1e6, 1)
        results["server_peak_rss_mb"] = round(server.peak_rss / 1e6)
        owner.close()
    finally:
        server.stop()

    engine = create_engine(url or f"sqlite:///{tmp / 'labelhouse.db'}")
    with engine.connect() as conn:
        over = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT a.task_id FROM annotation a JOIN project p ON p.id = a.project_id "
                "GROUP BY a.task_id, p.overlap HAVING count(*) > p.overlap) x"
            )
        ).scalar()
        dup = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT task_id, user_id FROM annotation GROUP BY task_id, user_id HAVING count(*) > 1) x"
            )
        ).scalar()
    engine.dispose()
    results["over_assigned_tasks"] = over
    results["double_annotated"] = dup
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=1, help="app server worker processes")
    args = parser.parse_args()
    if args.tasks < 10_000:
        parser.error(
            "--tasks must be at least 10000 (the latency and concurrency phases use 9,000)"
        )
    rows = []
    if args.backend in ("sqlite", "both"):
        rows.append(bench_backend("sqlite", None, args.tasks, args.workers))
    if args.backend in ("postgresql", "both"):
        with scratch_pg_database("labelhouse_bench") as (url, dbname):
            rows.append(bench_backend("postgresql", url, args.tasks, args.workers, dbname))
    from conditions import ratio

    for row in rows:  # the headline figures in units of this run's calibration
        row["server_cpu_per_pair_x_bare_request"] = ratio(
            float(row["server_cpu_ms_per_pair"]), "http_cpu_ms"
        )
        row["p50_x_bare_round_trip"] = ratio(float(row["next_submit_p50_ms"]), "http_rt_ms")
    print(f"\nworkers={args.workers}  cores={os.cpu_count()}")
    for row in rows:  # the headline: CPU per operation first, wall-clock beside it
        print(
            f"{row['backend']}: server CPU {row['server_cpu_ms_per_pair']} ms per pair "
            f"(database {row['db_cpu_ms_per_pair']}, load generator "
            f"{row['client_cpu_ms_per_pair']}) at {row['concurrent8_pairs_per_s']} pairs/s; "
            f"one annotator {row['one_annotator_server_cpu_ms_per_pair']} ms, "
            f"p50 {row['next_submit_p50_ms']} ms"
        )
    print_table(rows)
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
