"""What routing work to workforces costs: routing, moving, and the queue's claim+submit.

In-process (domain functions on a real database, no HTTP), so the figures isolate the
queue: an unrouted project (the old path), a vendor's person on a project routed by share
to three vendors, a vendor on a project where every task goes to two vendors, and a lab
person taking the tasks routed to nobody when 90 % of the project is routed elsewhere (the
anti-join's worst case).

    .venv/bin/python bench/bench_routing.py                       # SQLite, 100,000 tasks
    .venv/bin/python bench/bench_routing.py --tasks 20000 --backend postgresql

PostgreSQL: LABELHOUSE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a private database is created and dropped.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Role
from labelhouse.annotations import service as annotations
from labelhouse.db.engine import open_database
from labelhouse.people import project_members, teams, workforces
from labelhouse.projects.service import create_project
from labelhouse.tasks import queue, routing
from labelhouse.tasks.importer import import_tasks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import migrated_database

SCHEMA = {
    "fields": [
        {
            "name": "label",
            "kind": "choice",
            "reads": ["text"],
            "options": [{"value": "a"}, {"value": "b"}],
        }
    ]
}
PAIRS = 300


def build(url: str, n_tasks: int) -> dict[str, Any]:
    db = open_database(url)
    passwords.use_profile("cheapest")
    with db.session() as s:
        owner, _ = accounts.bootstrap_owner(
            s, email="o@x.org", organization_name="Lab", password="p" * 12
        )
        owner.must_change_password = False
    with db.read_session() as s:
        boss = accounts.actor_for(s, user_id=owner.id)
    people: dict[str, list[int]] = {}
    with db.session() as s:
        for name in ("lab", "A", "B", "C"):
            ids = []
            for i in range(4):
                u = accounts.create_user(
                    s,
                    email=f"{name.lower()}{i}@x.org",
                    password="p" * 12,
                    organization_id=boss.organization_id,
                    role=Role.annotator,
                )
                ids.append(u.id)
            people[name] = ids
    projects = {}
    rows = b"".join(orjson.dumps({"text": f"item {i}"}) + b"\n" for i in range(n_tasks))
    for key, overlap in (("unrouted", 1), ("share", 1), ("each", 2), ("mostly", 1)):
        with db.session() as s:
            p = create_project(s, boss, name=key, schema=SCHEMA, overlap=overlap)
            projects[key] = p.id
        with db.session() as s:
            import_tasks(s, boss, projects[key], io.BytesIO(rows), filename="t.jsonl")
    wf = {}
    with db.session() as s:
        for name in ("A", "B", "C"):
            emails = [f"{name.lower()}{i}@x.org" for i in range(4)]
            team = teams.create_team(s, boss, name=name)
            teams.add_members(s, boss, team.id, emails=emails)
            workforces.update_workforce(s, boss, team.id, kind="vendor")
            for pid in projects.values():
                project_members.add_team(s, boss, pid, team_id=team.id, role="annotator")
            wf[name] = team.id
        for pid in projects.values():
            project_members.add_people(
                s, boss, pid, emails=[f"lab{i}@x.org" for i in range(4)], role="annotator"
            )
    timings = {}
    with db.session() as s:
        t0 = time.perf_counter()
        routing.route_tasks(
            s,
            boss,
            projects["share"],
            mode="share",
            slots=[
                routing.Slot(wf["A"], share=50),
                routing.Slot(wf["B"], share=30),
                routing.Slot(wf["C"], share=20),
            ],
        )
        timings["route by share"] = time.perf_counter() - t0
    with db.session() as s:
        t0 = time.perf_counter()
        routing.route_tasks(
            s,
            boss,
            projects["each"],
            mode="each",
            slots=[routing.Slot(wf["A"], quota=1), routing.Slot(wf["B"], quota=1)],
        )
        timings["route to each of 2"] = time.perf_counter() - t0
    first = projects_first_task(db, projects["mostly"])
    with db.session() as s:  # the first 90 % to vendor A: a lab person skips past them
        routing.route_tasks(
            s,
            boss,
            projects["mostly"],
            mode="share",
            slots=[routing.Slot(wf["A"], share=1)],
            selection=routing.Selection(task_ids=tuple(range(first, first + n_tasks * 9 // 10))),
        )
    with db.session() as s:
        t0 = time.perf_counter()
        moved = routing.move_work(s, boss, projects["share"], from_id=wf["C"], to_id=wf["B"])
        timings["move work"] = time.perf_counter() - t0
    return {
        "db": db,
        "boss": boss,
        "projects": projects,
        "wf": wf,
        "people": people,
        "timings": timings,
        "moved": moved,
    }


def projects_first_task(db: Any, pid: int) -> int:
    from sqlalchemy import func, select

    from labelhouse.tasks.models import Task

    with db.read_session() as s:
        return int(s.scalar(select(func.min(Task.id)).where(Task.project_id == pid)))


def pairs(db: Any, user_id: int, org_id: int, pid: int, n: int) -> list[float]:
    with db.read_session() as s:
        actor = accounts.actor_for(s, user_id=user_id, organization_id=org_id)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with db.session() as s:
            lease = queue.claim_next(s, actor, pid)
            if lease is None:
                break
            task_id = lease.task.id
        with db.session() as s:
            annotations.save(s, actor, task_id, value={"label": "a"})
        out.append((time.perf_counter() - t0) * 1000)
    return out


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with migrated_database(args.backend, "routing") as url:
        print(f"building {args.backend}: 4 projects of {args.tasks:,} tasks…", file=sys.stderr)
        world = build(url, args.tasks)
        db, boss = world["db"], world["boss"]
        org = boss.organization_id
        cases = [
            ("unrouted project, lab annotator", world["people"]["lab"][0], "unrouted"),
            ("routed by share, vendor A annotator", world["people"]["A"][0], "share"),
            ("routed by share, vendor C→B moved, B annotator", world["people"]["B"][1], "share"),
            ("each task to A and B, B annotator", world["people"]["B"][0], "each"),
            (
                "90 % routed to A; lab annotator, the other 10 %",
                world["people"]["lab"][1],
                "mostly",
            ),
        ]
        rows = []
        for label, user_id, key in cases:
            times = pairs(db, user_id, org, world["projects"][key], PAIRS)
            if not times:
                rows.append([label, "0", "-", "-"])
                continue
            q = statistics.quantiles(times, n=100) if len(times) > 2 else times
            rows.append([label, f"{len(times)}", f"{statistics.median(times):.2f}", f"{q[-1]:.2f}"])
        print(f"\nnext+submit, in-process, {args.backend}, {args.tasks:,} tasks per project")
        table(["case", "pairs", "p50 ms", "p99 ms"], rows)
        print()
        table(
            ["operation", f"seconds for {args.tasks:,} tasks"],
            [[k, f"{v:.2f}"] for k, v in world["timings"].items()],
        )
        print(f"(move work moved {world['moved']:,} slots)")
        db.dispose()


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
