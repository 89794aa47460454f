"""How `serve --workers N` spreads keep-alive connections and requests over its workers.

Starts ``labelhouse serve --workers 4`` on SQLite in a scratch folder (one owner, one project),
opens 32 keep-alive connections at once from a few client processes, and has each send a
cheap authenticated request (``GET /api/projects``, a database read) in a loop for a fixed
time. Each connection's server-side owner is found with psutil (the worker whose socket has
that client port), so nothing in the app reports its PID. Prints, per worker: connections,
requests, share, CPU seconds; and the total throughput with p50/p99 latency.

    PYTHONPATH=src .venv/bin/python bench/bench_worker_balance.py
    .venv/bin/python bench/bench_worker_balance.py --src ../before/src --src src --runs 8
    PYTHONPATH=src .venv/bin/python bench/bench_worker_balance.py --workers 2 --clients 8

Two ``--src`` trees are served side by side and measured run for run alternately, so the
load of a shared machine drifts over both alike.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil

CLI = "import sys; from labelhouse.cli.main import app; sys.exit(app())"
PASSWORD = "bench-password-123"
OWNER = "owner@bench.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CLI, *args], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args}: {out.stderr}")
    return out.stdout.strip()


class Connection:
    """One keep-alive HTTP/1.1 connection on a bare socket: the clients share two cores
    with the server, so a request must cost them as little CPU as possible."""

    def __init__(self, port: int, path: str, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        self.buffer = b""

    def roundtrip(self) -> None:
        self.sock.sendall(self.request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        if head[9:12] != b"200":
            raise RuntimeError(f"answer {head[:200]!r}")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(self.buffer) < length:
            self._fill()
        self.buffer = self.buffer[length:]

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk


def client_process(args: tuple) -> list[tuple[int, int, list[float]]]:
    """Open ``n`` connections together, wait for the start time, loop until the end time;
    returns (client port, requests, latencies) per connection."""
    port, path, token, n, start_at, end_at = args
    conns = [Connection(port, path, token) for _ in range(n)]
    results: list[tuple[int, int, list[float]]] = [(c.local_port, 0, []) for c in conns]

    def run(i: int) -> None:
        c, done, lat = conns[i], 0, results[i][2]
        time.sleep(max(0.0, start_at - time.time()))
        while (now := time.perf_counter()) and time.time() < end_at:
            c.roundtrip()
            lat.append(time.perf_counter() - now)
            done += 1
        results[i] = (c.local_port, done, lat)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def owners(port: int, workers: list[psutil.Process]) -> dict[int, int]:
    """Client port → PID of the worker holding the server side of that connection."""
    found: dict[int, int] = {}
    for w in workers:
        for c in w.net_connections(kind="tcp"):
            if c.laddr and c.laddr.port == port and c.raddr:
                found[c.raddr.port] = w.pid
    return found


def cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def wait_healthy(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("serve exited: " + proc.stderr.read().decode()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("serve did not start")


def one_run(a: argparse.Namespace, token: str, port: int, workers: list) -> dict:
    per_proc = [a.clients // a.procs + (i < a.clients % a.procs) for i in range(a.procs)]
    ctx = multiprocessing.get_context("spawn")
    cpu_before = {w.pid: cpu(w) for w in workers}
    with ctx.Pool(a.procs) as pool:
        # time to spawn the client processes and connect, then all start together
        start_at = time.time() + 1.5 + 0.3 * a.procs
        end_at = start_at + a.seconds
        pending = pool.map_async(
            client_process, [(port, a.path, token, n, start_at, end_at) for n in per_proc]
        )
        time.sleep(max(0.0, start_at + min(2.0, a.seconds / 2) - time.time()))
        owner_of = owners(port, workers)  # mid-run: every connection has been accepted
        results = [r for chunk in pending.get() for r in chunk]
    by_worker: Counter[int] = Counter()
    conns: Counter[int] = Counter()
    latencies: list[float] = []
    worker_latencies: dict[int, list[float]] = {w.pid: [] for w in workers}
    for client_port, done, lat in results:
        pid = owner_of.get(client_port, 0)
        by_worker[pid] += done
        conns[pid] += 1
        latencies.extend(lat)
        worker_latencies.setdefault(pid, []).extend(lat)
    latencies.sort()
    per_conn = sorted(done / a.seconds for _, done, _ in results)
    total = sum(by_worker.values())
    return {
        "total": total,
        "rps": total / a.seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "slowest_conn": per_conn[0],
        "fastest_conn": per_conn[-1],
        "workers": [
            (
                w.pid,
                conns[w.pid],
                by_worker[w.pid],
                cpu(w) - cpu_before[w.pid],
                statistics.median(worker_latencies[w.pid]) * 1000
                if worker_latencies[w.pid]
                else 0.0,
            )
            for w in workers
        ],
        "unowned": conns[0],
    }


class Server:
    """``labelhouse serve --workers N`` from one source tree, with an owner's API token."""

    def __init__(self, a: argparse.Namespace, src: str | None) -> None:
        self.label = src or "PYTHONPATH"
        tmp = Path(tempfile.mkdtemp(prefix="lh-balance-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABELHOUSE_")}
        env |= {"LABELHOUSE_DATA_DIR": str(tmp), "LABELHOUSE_OWNER_EMAIL": OWNER}
        if src:
            env["PYTHONPATH"] = src
        cli(["users", "create", OWNER, "--password", PASSWORD], env)
        schema = tmp / "schema.json"
        schema.write_text(
            '{"fields": [{"name": "label", "kind": "choice", "reads": ["text"], '
            '"options": [{"value": "pos"}, {"value": "neg"}]}]}'
        )
        cli(["projects", "create", "balance", "--schema", str(schema)], env)
        self.port = free_port()
        command = ["serve", "--port", str(self.port), "--workers", str(a.workers)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CLI, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_healthy(self.proc, self.port)
        base = f"http://127.0.0.1:{self.port}"
        r = httpx.post(base + "/api/auth/login", json={"email": OWNER, "password": PASSWORD})
        r.raise_for_status()
        with httpx.Client(
            base_url=base, cookies=r.cookies, headers={"x-csrf-token": r.json()["csrf_token"]}
        ) as c:
            self.token = c.post("/api/me/tokens", json={"name": "bench"}).json()["token"]
        self.workers = [
            k
            for k in psutil.Process(self.proc.pid).children(recursive=True)
            if "resource_tracker" not in " ".join(k.cmdline())
        ]
        self.results: list[dict] = []

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def report(server: Server, run: int, res: dict, verbose: bool) -> None:
    split = "/".join(str(w[1]) for w in sorted(res["workers"], key=lambda w: -w[1]))
    res["split"] = split
    print(
        f"[{server.label}] run {run}: {res['rps']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, "
        f"p99 {res['p99_ms']:.1f} ms; connections per worker {split}; per connection "
        f"{res['slowest_conn']:.1f}–{res['fastest_conn']:.1f} req/s"
        + (f" ({res['unowned']} not found)" if res["unowned"] else "")
    )
    if not verbose:
        return
    for pid, n_conn, done, cpu_s, p50 in sorted(res["workers"], key=lambda w: -w[1]):
        share = done / res["total"] * 100 if res["total"] else 0
        print(
            f"    worker {pid}: {n_conn:2d} connections, {done:6d} requests "
            f"({share:4.1f}%), {cpu_s:5.1f} CPU s, p50 {p50:6.1f} ms"
        )


def summary(server: Server) -> None:
    rs = server.results
    idle = sum(1 for r in rs if any(w[1] == 0 for w in r["workers"]))
    print(
        f"[{server.label}] median of {len(rs)} runs: "
        f"{statistics.median(r['rps'] for r in rs):.0f} req/s "
        f"(range {min(r['rps'] for r in rs):.0f}–{max(r['rps'] for r in rs):.0f}), "
        f"p99 {statistics.median(r['p99_ms'] for r in rs):.0f} ms, slowest connection "
        f"{statistics.median(r['slowest_conn'] for r in rs):.1f} req/s, fastest "
        f"{statistics.median(r['fastest_conn'] for r in rs):.1f} req/s; "
        f"runs with an idle worker {idle}/{len(rs)}; splits {', '.join(r['split'] for r in rs)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=5, help="runs against each server")
    ap.add_argument("--path", default="/api/projects")
    ap.add_argument(
        "--src",
        action="append",
        help="a source tree (its src/ folder) to serve from; give two to compare them, run "
        "for run alternately (default: the labelhouse that PYTHONPATH selects)",
    )
    ap.add_argument("--verbose", action="store_true", help="print every worker of every run")
    a = ap.parse_args()
    servers: list[Server] = []
    try:
        for src in a.src or [None]:
            servers.append(Server(a, src))
        print(
            f"serve --workers {a.workers}; {a.clients} keep-alive connections from {a.procs} "
            f"processes, GET {a.path}, {a.seconds:g} s per run, {os.cpu_count()} CPUs"
        )
        for run in range(1, a.runs + 1):
            for server in servers:
                res = one_run(a, server.token, server.port, server.workers)
                server.results.append(res)
                report(server, run, res, a.verbose)
        for server in servers:
            summary(server)
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
