"""What an outside (vendor) view of a task costs: the policy applied to a typical 2 kB task.

    .venv/bin/python bench/bench_outside_view.py
    .venv/bin/python bench/bench_outside_view.py --copies 70   # a 20 kB task

The policy hides keys, redacts e-mails, phones and an order-id pattern and plants a canary
marker (tests/tasks/test_outside_view.py's EVERYTHING); the figure is CPU per call, best of
5 repeats of 1,000 calls, so other work on the machine barely moves it.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests: the policy measured
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from labelhouse.tasks.outside_view import outside_view


def main() -> None:
    from tests.tasks.test_outside_view import ARTICLE, EVERYTHING, MARKER  # the test's policy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=7, help="article copies in the task text")
    args = parser.parse_args()
    task = {
        "text": ARTICLE * args.copies,
        "title": "A customer's complaint about delivery",
        "meta": {"lang": "en", "n": 3},
        "system_prompt": "x" * 300,
    }
    outside_view(task, EVERYTHING, marker=MARKER)  # compile once
    runs = timeit.repeat(
        lambda: outside_view(task, EVERYTHING, marker=MARKER),
        number=1000,
        repeat=5,
        timer=time.process_time,
    )
    print(f"task bytes          {len(orjson.dumps(task)):,}")
    print(f"cpu ms per call     {min(runs):.4f}")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
