"""How long an annotation import takes: the largest real crowd set (D_Product, 24,945 answers
from 176 workers on 8,315 items, read from ``../shared/qc-real`` in place) in the long format,
on SQLite and PostgreSQL: first import (external annotators created), then the same file
again (every row unchanged). Wall and CPU seconds each.

    .venv/bin/python bench/bench_annotation_import.py [--backend sqlite|postgresql|both]

Skips cleanly (exit 0, with a message) when the folder is absent.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter

from bench.bench_qc_real import find_qc_real
from bench.common import migrated_database, print_table


def run(backend: str, answers_path, rows: list[dict[str, str]]) -> dict[str, object]:
    from labelhouse.accounts import service as accounts
    from labelhouse.annotations.imports import import_file
    from labelhouse.db.engine import open_database
    from labelhouse.projects.service import create_project
    from labelhouse.tasks.importer import run_import

    items = sorted({r["question"] for r in rows})
    overlap = max(Counter(r["question"] for r in rows).values())
    labels = sorted({r["answer"] for r in rows})
    schema = {
        "fields": [{"name": "label", "kind": "choice", "options": [{"value": v} for v in labels]}]
    }
    out: dict[str, object] = {"backend": backend}
    with migrated_database(backend, "bench_annimport") as url:
        db = open_database(url)
        with db.session() as s:
            user, _ = accounts.bootstrap_owner(
                s, email="o@b.example", organization_name="B", password="x" * 16
            )
            uid = user.id
        with db.read_session() as s:
            actor = accounts.actor_for(s, user_id=uid)
        with db.session() as s:
            pid = create_project(s, actor, name="P", schema=schema, overlap=overlap).id
        tasks = "".join(f'{{"external_id": "{q}"}}\n' for q in items).encode()
        import io

        run_import(db, actor, pid, io.BytesIO(tasks), filename="t.jsonl")
        for phase in ("first", "again"):
            wall, cpu = time.perf_counter(), time.process_time()
            with db.session(long_running=True) as s, answers_path.open("rb") as raw:
                result = import_file(
                    s, actor, pid, raw, filename=answers_path.name, file_format="long"
                )
            assert result.ok, result.problems[:3]
            out[f"{phase} wall s"] = round(time.perf_counter() - wall, 2)
            out[f"{phase} cpu s"] = round(time.process_time() - cpu, 2)
            out[f"{phase} imported"] = result.imported
        out["answers"] = len(rows)
        db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    folder = find_qc_real()
    if folder is None:
        print("../shared/qc-real is absent: nothing to measure.")
        return
    path = folder / "zheng2017" / "d_jn-product" / "answer.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print_table([run(b, path, rows) for b in backends])


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
