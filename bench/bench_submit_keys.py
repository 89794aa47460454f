"""What an Idempotency-Key costs a submit, and what a retry of every submit leaves behind.

One annotator works through N tasks over the real app in-process (TestClient, no network):
``POST /api/tasks/{id}/annotations?next=1`` per task, first without a key, then with one,
then with a key and every submit sent twice (the answer "lost"). Prints the submit's
p50/p99 in each mode (the three take turns task by task) and, for the retried run, the
revisions stored (must equal N) and the lead time summed (must be N × the time sent once);
and the key's own upkeep per write, measured on the database alone (no HTTP around it).

    .venv/bin/python bench/bench_submit_keys.py                    # SQLite and PostgreSQL
    .venv/bin/python bench/bench_submit_keys.py --backend sqlite --tasks 500
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PASSWORD, SCHEMA, migrated_database, print_table
from labelhouse.accounts import passwords
from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import User
from labelhouse.annotations import idempotency
from labelhouse.annotations.models import Annotation, AnnotationRevision
from labelhouse.config import Settings
from labelhouse.db.engine import Database, open_database
from labelhouse.projects.service import create_project
from labelhouse.storage import LocalStorage
from labelhouse.tasks.importer import import_tasks
from labelhouse.web.app import create_app

LEAD_MS = 1500


def key_upkeep(db: Database, user_id: int, n: int) -> float:
    """The key's own statements (prune, insert, complete) per write, in milliseconds: one
    transaction per write, with and without a key, around the same one-row update (so both
    commit to disk alike), taking turns; the difference of the medians."""
    request = idempotency.fingerprint("POST", "/bench", {"x": 1})
    touch = update(User).where(User.id == user_id).values(name=User.name)
    plain: list[float] = []
    keyed: list[float] = []
    for _ in range(n):
        for key, times in ((None, plain), (str(uuid.uuid4()), keyed)):
            started = time.perf_counter()
            with db.session() as s:

                def write(s: Session = s) -> idempotency.Reply:
                    s.execute(touch)
                    return idempotency.Reply(204)

                idempotency.run_once(s, user_id, key, request, write)
            times.append(time.perf_counter() - started)
    return (statistics.median(keyed) - statistics.median(plain)) * 1000


def run(backend: str, n: int) -> dict[str, object]:
    passwords.use_profile("cheapest")
    with migrated_database(backend, "bench_keys") as url:
        db = open_database(url)
        with db.session() as s:
            user, _ = accounts.bootstrap_owner(
                s, email="o@bench.test", organization_name="Bench", password=PASSWORD
            )
            user.must_change_password = False
            actor = accounts.actor_for(s, user_id=user.id)
            pids = []
            for mode in ("plain", "key", "retried"):
                project = create_project(s, actor, name=mode, schema=SCHEMA)
                rows = b"".join(
                    orjson.dumps({"text": f"{mode} {i}"}, option=orjson.OPT_APPEND_NEWLINE)
                    for i in range(n)
                )
                import_tasks(s, actor, project.id, io.BytesIO(rows), filename="t.jsonl")
                pids.append(project.id)
        settings = Settings(database_url=url, password_hash_profile="cheapest")
        app = create_app(settings, database=db, storage=LocalStorage(Path("/tmp/bench-keys")))
        out: dict[str, object] = {"backend": backend}
        modes = list(zip(("plain", "key", "retried"), pids, strict=True))
        with TestClient(app) as c:
            r = c.post("/api/auth/login", json={"email": "o@bench.test", "password": PASSWORD})
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            # The modes take turns task by task, so a busy moment of the machine hits all.
            tasks = {m: c.post(f"/api/projects/{p}/next").json()["task"] for m, p in modes}
            took: dict[str, list[float]] = {m: [] for m, _ in modes}
            while any(t is not None for t in tasks.values()):
                for mode, task in list(tasks.items()):
                    if task is None:
                        continue
                    headers = {} if mode == "plain" else {"Idempotency-Key": str(uuid.uuid4())}
                    body = {"value": {"label": "pos"}, "lead_time_ms": LEAD_MS}
                    url_ = f"/api/tasks/{task['id']}/annotations?next=1"
                    for _ in range(2 if mode == "retried" else 1):
                        started = time.perf_counter()
                        r = c.post(url_, json=body, headers=headers)
                        took[mode].append(time.perf_counter() - started)
                        assert r.status_code == 200, r.text
                    tasks[mode] = r.json()["next"]["task"]
            for mode, times in took.items():
                times.sort()
                out[f"{mode} p50 ms"] = f"{statistics.median(times) * 1000:.2f}"
                out[f"{mode} p99 ms"] = f"{times[int(len(times) * 0.99) - 1] * 1000:.2f}"
            with db.read_session() as s:
                revisions = s.scalar(
                    select(func.count())
                    .select_from(AnnotationRevision)
                    .join(Annotation, Annotation.id == AnnotationRevision.annotation_id)
                    .where(Annotation.project_id == modes[2][1])
                )
                lead = s.scalar(
                    select(func.sum(Annotation.lead_time_ms)).where(
                        Annotation.project_id == modes[2][1]
                    )
                )
        out["key upkeep ms"] = f"{key_upkeep(db, user.id, n):.3f}"
        out["retried: revisions"] = f"{revisions}/{n}"
        out["retried: lead s"] = f"{lead // 1000}/{n * LEAD_MS // 1000}"
        db.dispose()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print_table([run(b, args.tasks) for b in backends])


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
