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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from labelhouse.tasks.canary import encode_marker
from labelhouse.tasks.outside_view import outside_view, parse_policy

POLICY = parse_policy(
    {
        "hidden_keys": ["system_prompt", "customer.id", "messages.meta", "a.b.c"],
        "redact": ["email", "phone", {"name": "order id", "pattern": r"ORD-\d{6}"}],
        "canary": True,
    }
)
ARTICLE = (
    "Dear team, the parcel arrived broken. Please write to jo.doe+returns@example.co.uk "
    "or call +1 415 555 0132 about order ORD-123456. We paid on 2021-05-06 from "
    "192.168.10.20 and the total was 12.000.000 units. Thanks for the quick help!"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=7, help="article copies in the task text")
    args = parser.parse_args()
    task = {
        "text": ARTICLE * args.copies,
        "title": "A customer's complaint about delivery",
        "meta": {"lang": "en", "n": 3},
        "system_prompt": "x" * 300,
    }
    marker = encode_marker(4_815_162_342)
    outside_view(task, POLICY, marker=marker)  # compile once
    runs = timeit.repeat(
        lambda: outside_view(task, POLICY, marker=marker),
        number=1000,
        repeat=5,
        timer=time.process_time,
    )
    print(f"task bytes          {len(orjson.dumps(task)):,}")
    print(f"cpu ms per call     {min(runs):.4f}")


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
