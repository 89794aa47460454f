"""The vision and NLP export writers over generated records (no database): wall time, output
size and peak RSS per format, each in its own process, to show that they stream with flat
memory (peak RSS the same at 20k and 100k tasks). ``--option name=value`` is given to every
format measured (e.g. spaCy's ``shard_size``).

    .venv/bin/python bench/bench_vision_nlp_formats.py                 # 100k tasks, 2 answers
    .venv/bin/python bench/bench_vision_nlp_formats.py --tasks 20000 --formats spacy conll
    .venv/bin/python bench/bench_vision_nlp_formats.py --formats spacy --option shard_size=10000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import ROOT

MEASURE = """
import json, resource, sys, time
from labelhouse.exports.writers import FORMATS
from labelhouse.kinds.registry import parse_schema

fmt, tasks = sys.argv[1], int(sys.argv[2])
schema = parse_schema({"fields": [
    {"name": "objects", "kind": "boxes", "labels": [{"value": "cat"}, {"value": "dog"}]},
    {"name": "entities", "kind": "spans", "labels": [{"value": "PER"}, {"value": "LOC"}],
     "allow_overlap": True},
]})
TEXT = "Alice moved from Paris to New York in May. She likes it there. " * 3
BOXES = [{"x": 10 * i, "y": 5, "width": 30, "height": 40, "label": "cat"} for i in range(5)]
SPANS = [{"start": 0, "end": 5, "label": "PER"}, {"start": 17, "end": 22, "label": "LOC"},
         {"start": 26, "end": 34, "label": "LOC"}, {"start": 26, "end": 29, "label": "PER"}]

def records():
    for t in range(1, tasks + 1):
        data = {"image": f"img{t}.jpg", "image_width": 640, "image_height": 480, "text": TEXT}
        value = {"objects": BOXES, "entities": SPANS}
        yield {"id": t, "external_id": f"t{t}", "data": data, "annotations": [
            {"id": 2 * t + a, "annotator_id": a, "value": value} for a in (1, 2)]}

kind = "spans" if fmt in ("spacy", "conll") else "boxes"
field = "entities" if kind == "spans" else "objects"
options = FORMATS[fmt].parse_options(schema, {"field": field, **json.loads(sys.argv[3])})
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

start, cpu_start = time.perf_counter(), cpu()
size = 0
for chunk in FORMATS[fmt].write(records(), schema=schema, options=options, field_names=[],
                                 data_keys=[], consensus=False, csv_formulas="escape"):
    size += len(chunk)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds:.2f} {size} {rss:.0f} {cpu_seconds:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=["coco", "yolo", "voc", "conll", "spacy"])
    parser.add_argument("--option", action="append", default=[], help="name=value, repeatable")
    args = parser.parse_args()
    given = dict(o.split("=", 1) for o in args.option)
    rows: list[dict[str, object]] = []
    for fmt in args.formats:
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, fmt, str(args.tasks), json.dumps(given)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        seconds, size, rss, cpu = float(out[0]), int(out[1]), float(out[2]), float(out[3])
        rows.append(
            {
                "format": fmt + "".join(f" {k}={v}" for k, v in given.items()),
                "tasks (2 answers)": f"{args.tasks:,}",
                "time": f"{seconds:.1f} s",
                "cpu/task": f"{1000 * cpu / args.tasks:.2f} ms",
                "output": f"{size / 1e6:.1f} MB",
                "peak RSS": f"{rss:.0f} MB",
            }
        )
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
