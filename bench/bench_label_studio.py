"""Reading a large Label Studio export: throughput and peak memory of the migration's
reading step (``interop/label_studio/service.spool_export``: ijson stream → converted,
validated rows in temporary JSONL files), which is what runs before anything is written.

The export is synthetic but shaped like the fixtures Label Studio 1.23 wrote
(tests/fixtures/label_studio/ner.export.json): N text tasks, each with two annotators'
spans and one prediction. Each size is read in a fresh process so peak RSS is its own;
memory should not grow with N.

    .venv/bin/python bench/bench_label_studio.py                  # 10k and 100k tasks
    .venv/bin/python bench/bench_label_studio.py --tasks 20000 200000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from common import ROOT

MEASURE = """
import resource, sys, time
from pathlib import Path
from labelhouse.interop.label_studio.config import parse_config
from labelhouse.interop.label_studio.service import spool_export
root = Path(sys.argv[2])
conversion = parse_config((root / "tests/fixtures/label_studio/ner.config.xml").read_text())
start = time.perf_counter()
with open(sys.argv[1], "rb") as stream:
    spooled = spool_export(stream, conversion)
elapsed = time.perf_counter() - start
print(elapsed, spooled.report.tasks, spooled.report.annotations,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

TEXT = "Ada Lovelace worked with Charles Babbage in London, {n} times."


def span(text: str, phrase: str, label: str) -> dict:
    start = text.index(phrase)
    return {
        "from_name": "entities",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": start + len(phrase), "text": phrase, "labels": [label]},
    }


def task(n: int) -> dict:
    text = TEXT.format(n=n)
    answer = [span(text, "Ada Lovelace", "PER"), span(text, "London", "LOC")]
    return {
        "id": n,
        "data": {"text": text},
        "annotations": [
            {
                "id": 2 * n + i,
                "completed_by": {"id": i + 1, "email": f"annotator{i}@example.com"},
                "result": answer,
                "was_cancelled": False,
                "lead_time": 12.5,
                "created_at": "2026-12-04T16:08:56.010887Z",
            }
            for i in range(2)
        ],
        "predictions": [{"model_version": "ner-1", "score": 0.8, "result": answer[:1]}],
    }


def write_export(path: Path, tasks: int) -> None:
    with path.open("wb") as out:
        out.write(b"[")
        for n in range(tasks):
            out.write((b",\n" if n else b"\n") + orjson.dumps(task(n)))
        out.write(b"\n]\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tasks:
            path = Path(tmp) / f"export-{n}.json"
            write_export(path, n)
            out = subprocess.run(
                [sys.executable, "-c", MEASURE, str(path), str(ROOT)],
                check=True,
                capture_output=True,
                text=True,
                env={"PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1"},
            ).stdout.split()
            elapsed, tasks, answers, rss = float(out[0]), int(out[1]), int(out[2]), float(out[3])
            rows.append(
                {
                    "tasks": f"{tasks:,}",
                    "answers": f"{answers:,}",
                    "export": f"{path.stat().st_size / 1e6:.1f} MB",
                    "read": f"{elapsed:.2f} s",
                    "tasks/s": f"{tasks / elapsed:,.0f}",
                    "peak RSS": f"{rss:.0f} MB",
                }
            )
    columns = list(rows[0])
    print("  ".join(c.rjust(10) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).rjust(10) for c in columns))


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
