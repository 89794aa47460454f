"""Hostile imports benchmark: peak memory and time of ``labelhouse import`` for files built to
blow up when read (Parquet decompression bombs, a JSON array of one huge item, a CSV record
of quoted line breaks), next to ordinary 100,000-row files whose speed must not change.

Each import is the whole CLI command in a fresh process (SQLite, a new project each time);
its peak RSS is the process's own high-water mark (VmHWM, read as it exits), its CPU
seconds (user + system) the figure to compare on a shared machine; ordinary files are
imported three times (best and median CPU). The hostile files are a few hundred bytes to a
few KB of Parquet, or 64 MB of JSON/CSV.

    .venv/bin/python bench/bench_hostile_imports.py                 # every case
    .venv/bin/python bench/bench_hostile_imports.py --only bomb      # cases whose name has "bomb"
    .venv/bin/python bench/bench_hostile_imports.py --src OTHER/src  # another checkout (before/after)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common import PASSWORD, SCHEMA

ROOT = Path(__file__).resolve().parent.parent
# The CLI, reporting its peak RSS on the way out (sys.exit runs atexit hooks).
CLI = """
import atexit, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            sys.stderr.write("\\nPEAK_KB " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv[0] = "labelhouse"
from labelhouse.cli.main import app
app()
"""
ZSTD = {"compression": "zstd", "compression_level": 22}


def repeated(rows: int, size: int) -> pa.DictionaryArray:
    """``rows`` references to one string of ``size`` bytes (built without the rows x size)."""
    return pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * size]))


def dictionary_bomb(path: Path, *, size: int, columns: int = 1, schema: bool = True) -> None:
    """4,096 rows repeating one ``size``-byte string in each of ``columns`` dictionary-encoded
    columns. With the Arrow schema stored, pyarrow reads the column back as a dictionary
    (the expansion happens in Python); without it, as plain strings (pyarrow expands)."""
    table = pa.table(
        {f"c{i}": repeated(4096, size) for i in range(columns)} | {"text": ["t"] * 4096}
    )
    pq.write_table(table, path, store_schema=schema, **ZSTD)


def list_bomb(path: Path) -> None:
    """One row holding a list of 5 million zeros (run-length encoded: under 1 KB)."""
    pq.write_table(pa.table({"text": ["t"], "l": pa.array([[0] * 5_000_000])}), path, **ZSTD)


def nested_bomb(path: Path) -> None:
    """64 rows, each a list of 100 references to one 1 MB string."""
    values = repeated(6400, 1_000_000)
    lists = pa.ListArray.from_arrays(pa.array(range(0, 6401, 100), pa.int32()), values)
    pq.write_table(pa.table({"text": ["t"] * 64, "l": lists}), path, store_schema=False, **ZSTD)


def plain_page_bomb(path: Path) -> None:
    """One 100 MB value in a plain (not dictionary) page, compressed to a few KB."""
    table = pa.table({"text": ["t"], "c": ["y" * 100_000_000]})
    pq.write_table(table, path, use_dictionary=False, **ZSTD)


def json_item_bomb(path: Path) -> None:
    """A JSON array of one item: a list of 64 MB of short numbers."""
    with path.open("wb") as f:
        f.write(b'[{"text": "t", "n": [')
        chunk = b",".join(b"%d" % (10000 + i) for i in range(10_000))
        for _ in range(64 * 1024 * 1024 // len(chunk)):
            f.write(chunk + b",")
        f.write(b"1]}]")


def csv_record_bomb(path: Path) -> None:
    """One CSV record of 64 MB: cells of two letters and a quoted line break."""
    with path.open("wb") as f:
        f.write(b"text\n")
        for _ in range(64 * 1024 * 1024 // 60_000):
            f.write(b'"ab\n",' * 10_000)
        f.write(b'"x"\n')


def ordinary_rows(n: int) -> list[dict[str, str]]:
    return [
        {
            "external_id": f"t{i}",
            "text": f"Review {i}: the product was fine, shipping took {i % 9 + 1} days.",
        }
        for i in range(n)
    ]


def ordinary_parquet(path: Path) -> None:
    """100,000 short texts with ids, pyarrow's defaults, five row groups."""
    pq.write_table(pa.Table.from_pylist(ordinary_rows(100_000)), path, row_group_size=20_000)


def ordinary_json(path: Path) -> None:
    path.write_bytes(json.dumps(ordinary_rows(100_000)).encode())


def ordinary_csv(path: Path) -> None:
    lines = ["external_id,text"] + [
        f'{r["external_id"]},"{r["text"]}"' for r in ordinary_rows(100_000)
    ]
    path.write_text("\n".join(lines) + "\n")


# name, file name, builder, runs (ordinary files are timed more than once)
CASES: list[tuple[str, str, Callable[[Path], None], int]] = [
    (
        "bomb: 1 MB string x4096 (dictionary column)",
        "dict.parquet",
        lambda p: dictionary_bomb(p, size=1_000_000),
        1,
    ),
    (
        "bomb: 1 MB string x4096 (plain string column)",
        "plain.parquet",
        lambda p: dictionary_bomb(p, size=1_000_000, schema=False),
        1,
    ),
    (
        "bomb: 16 MB string x4096",
        "big.parquet",
        lambda p: dictionary_bomb(p, size=16_000_000, schema=False),
        1,
    ),
    (
        "bomb: 20 columns of 1 MB x4096",
        "wide.parquet",
        lambda p: dictionary_bomb(p, size=1_000_000, columns=20, schema=False),
        1,
    ),
    (
        "bomb: 40 columns of 1 MB x4096",
        "wider.parquet",
        lambda p: dictionary_bomb(p, size=1_000_000, columns=40, schema=False),
        1,
    ),
    ("bomb: one row, list of 5M zeros", "list.parquet", list_bomb, 1),
    ("bomb: 64 rows of 100 x 1 MB in lists", "nested.parquet", nested_bomb, 1),
    ("bomb: one 100 MB plain value", "page.parquet", plain_page_bomb, 1),
    ("bomb: JSON array, one 64 MB item", "item.json", json_item_bomb, 1),
    ("bomb: CSV, one 64 MB record", "record.csv", csv_record_bomb, 1),
    ("ordinary: 100k rows Parquet (5 row groups)", "ordinary.parquet", ordinary_parquet, 3),
    ("ordinary: 100k rows JSON array", "ordinary.json", ordinary_json, 3),
    ("ordinary: 100k rows CSV", "ordinary.csv", ordinary_csv, 3),
]


def run(args: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, int, int, str]:
    """Wall seconds, CPU seconds (user + system: the fairer figure on a shared machine), exit
    code, peak RSS in KB and the output of one CLI command."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env, stdout=out, stderr=out)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    peak = next((int(x.split()[1]) for x in text.splitlines() if x.startswith("PEAK_KB")), 0)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode, peak, text


def outcome(text: str) -> str:
    """The line that says what happened, shortened."""
    lines = [x.strip() for x in text.splitlines() if x.strip() and not x.startswith("PEAK_KB")]
    for line in lines:
        if line.startswith(("Imported", "Nothing was imported", "Error")):
            return line[:150]
    return (lines[-1] if lines else "")[:150]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", help="the src/ directory to run (default: this checkout's)")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per import")
    parser.add_argument("--runs", type=int, default=3, help="imports of each ordinary file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lh-bench-hostile-"))
    src = str(Path(args.src).resolve()) if args.src else str(ROOT / "src")
    env = {
        **os.environ,
        "LABELHOUSE_DATA_DIR": str(tmp),
        "PYTHONPATH": src,
        "COLUMNS": "200",
    }
    _, _, code, _, text = run(
        ["users", "create", "owner@bench.local", "--password", PASSWORD], env, 120
    )
    if code != 0:
        raise SystemExit(text)
    schema_file = tmp / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    print(f"source: {src}", file=sys.stderr)
    results = []
    for number, (name, file_name, build, runs) in enumerate(CASES):
        if args.only not in name:
            continue
        path = tmp / file_name
        build(path)
        walls, cpus, peaks = [], [], []
        for i in range(args.runs if runs > 1 else 1):
            _, _, code, _, text = run(
                ["projects", "create", f"p{number}-{i}", "--schema", str(schema_file)], env, 120
            )
            project = text.strip().splitlines()[0] if code == 0 else "?"
            wall, cpu, code, peak, text = run(["import", project, str(path)], env, args.timeout)
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
            print(
                f"{name} run {i + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak / 1024:.0f} MB",
                file=sys.stderr,
            )
        results.append(
            {
                "case": name,
                "file": f"{path.stat().st_size:,} B",
                "exit": code,
                "peak MB": round(max(peaks) / 1024),
                "CPU s": f"{min(cpus):.2f}"
                + (f" (median {statistics.median(cpus):.2f})" if len(cpus) > 1 else ""),
                "wall s": f"{min(walls):.2f}",
                "outcome": outcome(text),
            }
        )
        path.unlink()
    shutil.rmtree(tmp, ignore_errors=True)
    print_table(results)


def print_table(rows: list[dict[str, object]]) -> None:
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys[:-1]}
    print("  ".join(k.ljust(widths[k]) for k in keys[:-1]) + "  outcome")
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys[:-1]) + f"  {r['outcome']}")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
