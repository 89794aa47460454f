"""huey's dequeue with several consumers on one queue (SqliteHuey's file, or huey's SQL
storage on PostgreSQL): every message reaches exactly one consumer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from labelhouse.jobs.runtime import ConsumerThread, Jobs
from labelhouse.storage import LocalStorage
from tests.factories import login
from tests.jobs.conftest import wait_for

JOBS = 24


class CountingJobs(Jobs):
    """Jobs that note every message its consumer is handed before running it."""

    delivered: Counter[int]
    lock: threading.Lock

    def run(self, job_id: int, **kwargs: Any) -> str:
        with self.lock:
            self.delivered[job_id] += 1
        return super().run(job_id, **kwargs)


def test_several_consumers_take_each_message_once(app, db, owner, project, settings):
    delivered: Counter[int] = Counter()
    lock = threading.Lock()
    consumers = []
    for _ in range(3):  # three consumers, each with its own queue connection
        jobs = CountingJobs(
            settings, database=db, storage=LocalStorage(settings.resolved_storage_dir)
        )
        jobs.delivered, jobs.lock = delivered, lock
        consumers.append(ConsumerThread(jobs, threads=2).start())
    try:
        c = login(app, owner)
        ids = [
            c.post(f"/api/projects/{project}/exports", json={"format": "jsonl"}).json()["id"]
            for _ in range(JOBS)
        ]
        for job_id in ids:
            assert wait_for(db, job_id).state == "succeeded"
        time.sleep(0.5)  # a duplicate would arrive about now
    finally:
        for consumer in consumers:
            consumer.stop()
    assert sorted(delivered) == sorted(ids)
    assert set(delivered.values()) == {1}
