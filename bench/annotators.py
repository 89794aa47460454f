"""A load generator of annotators: N keep-alive connections doing ``POST /next`` + submit,
multiplexed over a few processes (asyncio on raw sockets, ``bench_soak.Conn``), so that 200
annotators are 4 processes sharing the server's cores, not 200. Each process reports the
latencies of its pairs and its own CPU, for "load generator CPU per pair" beside the
server's (issue 18, item 4)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import time
from typing import Any

from bench_soak import Conn


async def annotator(
    port: int, token: str, project: int, start: float, stop: float, think: float, tally: dict
) -> None:
    """next + submit until ``stop``, with a random pause of 0–2 × ``think`` after each."""
    conn = Conn(port, token)
    await asyncio.sleep(max(0.0, start - time.monotonic()) + random.random() * think)
    answer = {"value": {"label": "pos"}, "lead_time_ms": 900}
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            status, body, _ = await conn.post(f"/api/projects/{project}/next")
            task = body.get("task") if status == 200 else None
            if task is None:
                tally["dry" if status == 200 else "errors"] += 1
                await asyncio.sleep(0.5)
                continue
            status, _, _ = await conn.post(f"/api/tasks/{task['id']}/annotations", answer)
        except (OSError, asyncio.IncompleteReadError):
            tally["errors"] += 1
            await asyncio.sleep(0.2)
            continue
        if 200 <= status < 300:
            tally["latencies"].append(time.perf_counter() - t0)
        else:
            tally["errors"] += 1
        if think:
            await asyncio.sleep(think * 2 * random.random())
    conn.drop()


def client_process(job: tuple[int, list[str], int, float, float, float, int]) -> dict[str, Any]:
    """One load-generator process: its share of the annotators on one event loop. Its CPU
    is counted from the start signal to the end, at the niceness asked for."""
    port, tokens, project, start, seconds, think, nice = job
    gc.freeze()  # the objects inherited from the fork: collections would walk (and copy) them
    os.nice(nice)
    tally: dict[str, Any] = {"latencies": [], "dry": 0, "errors": 0}

    async def run() -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu0 = time.process_time()
        await asyncio.gather(
            *(annotator(port, t, project, start, start + seconds, think, tally) for t in tokens)
        )
        tally["cpu"] = time.process_time() - cpu0

    asyncio.run(run())
    return tally


def drive(
    port: int,
    tokens: list[str],
    project: int,
    seconds: float,
    think: float,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """All annotators for ``seconds``, spread over ``--clients`` processes."""
    clients = max(1, min(args.clients, len(tokens)))
    shares = [tokens[i::clients] for i in range(clients)]
    start = time.monotonic() + 1.0  # every process connected and waiting
    jobs = [(port, share, project, start, seconds, think, args.client_nice) for share in shares]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(client_process, jobs)
    return {
        "latencies": sorted(x for r in results for x in r["latencies"]),
        "dry": sum(r["dry"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "cpu": sum(r["cpu"] for r in results),
    }


def busy_share(before: Any, after: Any) -> float:
    busy = sum(
        getattr(after, f) - getattr(before, f) for f in ("user", "system", "nice", "irq", "softirq")
    )
    idle = (after.idle - before.idle) + (after.iowait - before.iowait)
    return busy / max(busy + idle, 1e-9)
