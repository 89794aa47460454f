"""Run every benchmark docs/benchmarks.md quotes, one after another, and keep each one's output.

    .venv/bin/python bench/regenerate.py                     # all, into bench/results/<today>/
    .venv/bin/python bench/regenerate.py --only core import  # runs whose name contains a word
    .venv/bin/python bench/regenerate.py --list              # the runs, their commands, no run

The point is that the figures in docs/benchmarks.md come from one machine in one session and
can be traced to the scripts' own output: each run writes ``<name>.txt`` (its command, its
stdout and stderr, which carry the conditions block and the same-run calibration, its exit
status and wall time) and the runner appends a line per run to ``index.tsv``. Runs go
strictly one at a time: two benchmarks on two cores would measure each other. Sizes are the
ones the doc's sections name, except where a run says otherwise in its ``why``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Run:
    name: str
    args: tuple[str, ...]
    why: str = ""


RUNS: tuple[Run, ...] = (
    Run("conditions", ("conditions.py",)),
    Run("core-w1", ("bench_core.py", "--backend", "both", "--workers", "1")),
    Run("core-w2", ("bench_core.py", "--backend", "both", "--workers", "2")),
    Run("core-10k-sqlite", ("bench_core.py", "--tasks", "10000", "--backend", "sqlite")),
    Run("core-10k-pg", ("bench_core.py", "--tasks", "10000", "--backend", "postgresql")),
    Run("profile-requests-sqlite", ("profile_requests.py", "--pairs", "1000")),
    Run("profile-requests-pg", ("profile_requests.py", "--pairs", "1000", "--pg", "{PG}")),
    Run("import", ("bench_import.py", "--repeat", "3", "--startup")),
    Run("import-1m", ("bench_import.py", "--tasks", "1000000", "--repeat", "1")),
    Run("export", ("bench_export.py",)),
    Run("quality", ("bench_quality.py",)),
    Run("qc-real", ("bench_qc_real.py",)),
    Run("ds-hard", ("bench_ds_hard.py",)),
    Run("ds-real", ("bench_ds_real.py", "--glad")),
    Run("bradley-terry", ("bench_bradley_terry.py", "--items", "1000", "2000", "2001")),
    Run("task-list", ("bench_task_list.py",)),
    Run("queue-order", ("bench_queue_order.py", "--claims", "30")),
    Run("analysis-sqlite", ("bench_analysis.py",)),
    Run("analysis-pg", ("bench_analysis.py", "--backend", "postgresql")),
    Run("acceptance", ("bench_acceptance.py", "--tasks", "100000", "--repeat", "1")),
    Run("export-ml", ("bench_export_ml.py",)),
    Run("vision-nlp-formats", ("bench_vision_nlp_formats.py",)),
    Run("label-studio", ("bench_label_studio.py",)),
    Run("annotation-import", ("bench_annotation_import.py", "--backend", "both")),
    Run("routing", ("bench_routing.py",)),
    Run("vendors", ("bench_vendors.py",)),
    Run("submit-keys", ("bench_submit_keys.py", "--tasks", "1000")),
    Run("queue-race", ("bench_queue_race.py",)),
    Run("db-check", ("bench_db_check.py",)),
    Run("import-while-annotating", ("bench_import_while_annotating.py",)),
    Run(
        "worker-balance",
        ("bench_worker_balance.py", "--src", str(ROOT / "src"), "--runs", "4"),
        "the current code only: the before/after of issue 12 needs the old checkout",
    ),
    Run("db-outage", ("bench_db_outage.py",)),
    Run(
        "soak",
        ("bench_soak.py", "--minutes", "3"),
        "3 minutes instead of the doc's 10, to fit the session; same 200 annotators and chaos",
    ),
    Run("backup", ("bench_backup.py",)),
    Run("seen-ids", ("bench_seen_ids.py",)),
    Run("progress", ("bench_progress.py",)),
    Run("export-jobs", ("bench_export_jobs.py",)),
    Run("markdown", ("bench_markdown.py",)),
    Run("media-urls", ("bench_media_urls.py",)),
    Run("hostile-imports", ("bench_hostile_imports.py",)),
    Run("outside-view", ("bench_outside_view.py",)),
    Run(
        "claim-scaling",
        ("bench_claim_scaling.py", "--levels", "1,8,64", "--seconds", "20", "--warmup", "3"),
        "1M tasks, half done, PostgreSQL, serve --workers 2 (~10 min)",
    ),
    Run(
        "envelope",
        ("bench_envelope.py", "--seconds", "10", "--client-nice", "19", "--measured-nice", "0"),
        "10M tasks on both databases, 18 cells (~25 min, 10 GB of disk)",
    ),
)

# Runs that take "{PG}" get an empty scratch database of their own, dropped afterwards.
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SCRATCH_DB = f"lh_regenerate_{os.getpid()}"


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
        check=True,
        capture_output=True,
    )


def command(run: Run) -> list[str]:
    url = f"{PG_SERVER}/{SCRATCH_DB}"
    return [
        sys.executable,
        str(HERE / run.args[0]),
        *(a.replace("{PG}", url) for a in run.args[1:]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="runs whose name contains a word")
    parser.add_argument("--skip", nargs="*", default=[], help="runs whose name contains a word")
    parser.add_argument("--out", type=Path, default=HERE / "results" / dt.date.today().isoformat())
    parser.add_argument("--list", action="store_true", help="print the runs and stop")
    opts = parser.parse_args()
    runs = [
        r
        for r in RUNS
        if (not opts.only or any(w in r.name for w in opts.only))
        and not any(w in r.name for w in opts.skip)
    ]
    if opts.list:
        for run in runs:
            print(f"{run.name}\t{' '.join(run.args)}\t{run.why}")
        return 0
    opts.out.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}  # `bench.` imports too
    failed = 0
    for i, run in enumerate(runs, 1):
        argv = command(run)
        print(f"[{i}/{len(runs)}] {run.name}: {' '.join(run.args)}", file=sys.stderr, flush=True)
        scratch = "{PG}" in run.args
        if scratch:
            psql(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
            psql(f"CREATE DATABASE {SCRATCH_DB}")
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=HERE, env=env, capture_output=True, text=True)
        wall = time.monotonic() - start
        if scratch:
            psql(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        failed += proc.returncode != 0
        header = f"$ {' '.join(['bench/' + run.args[0], *run.args[1:]])}\n"
        if run.why:
            header += f"# {run.why}\n"
        footer = f"\n# exit {proc.returncode}, wall {wall:.1f} s\n"
        body = f"## stdout\n{proc.stdout}\n## stderr\n{proc.stderr}"
        (opts.out / f"{run.name}.txt").write_text(header + body + footer)
        with (opts.out / "index.tsv").open("a") as index:
            stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
            index.write(f"{stamp}\t{run.name}\t{proc.returncode}\t{wall:.1f}\n")
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"    {status} in {wall:.0f} s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    from conditions import with_conditions  # the whole run's load and calibration, too

    sys.exit(with_conditions(main))
