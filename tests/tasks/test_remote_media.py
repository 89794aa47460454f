"""Media by URL at import (tasks/remote_media.py): image sizes are read a few rows ahead on
several threads, once per URL, and stored with the task; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
import time

from sqlalchemy import select

from labelhouse.media.sources import MediaSources
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher
from labelhouse.tasks.importer import run_import
from labelhouse.tasks.models import Task
from tests.factories import jsonl, make_org, make_project
from tests.helpers_data import BOXES_SCHEMA
from tests.media_server import PNG, media_server, send


def local_media() -> MediaSources:
    policy = FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32")), allow_http=True)
    return MediaSources(SafeFetcher(policy))


def test_sizes_are_read_ahead_on_several_threads_once_per_url(db):
    owner = make_org(db)
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    lock = threading.Lock()
    now = {"in flight": 0, "most": 0, "requests": 0}

    def slow_image(h):
        with lock:
            now["in flight"] += 1
            now["requests"] += 1
            now["most"] = max(now["most"], now["in flight"])
        time.sleep(0.2)
        with lock:
            now["in flight"] -= 1
        send(h, 200, PNG, content_type="image/png")

    with media_server() as web:
        for i in range(6):
            web.routes[f"/slow{i}.png"] = slow_image
        rows = [{"image": web.url(f"/slow{i % 6}.png"), "external_id": f"r{i}"} for i in range(12)]
        result = run_import(
            db, owner.actor, pid, io.BytesIO(jsonl(rows)), filename="t.jsonl", media=local_media()
        )
    assert result.created == 12
    assert now["requests"] == 6  # each URL once, though named twice
    assert now["most"] > 1  # read ahead, side by side
    with db.read_session() as s:
        sizes = {(t.data["image_width"], t.data["image_height"]) for t in s.scalars(select(Task))}
    assert sizes == {(37, 21)}


def test_without_a_configuration_only_public_https_is_reached(db):
    """A caller that passes no MediaSources (e.g. a script) gets the safe default: the
    loopback server is refused, and says so per row."""
    owner = make_org(db)
    pid = make_project(db, owner, schema=BOXES_SCHEMA)
    with media_server() as web:
        rows = [{"image": web.url("/img.png").replace("http://", "https://")}]
        result = run_import(
            db,
            owner.actor,
            pid,
            io.BytesIO(jsonl(rows)),
            filename="t.jsonl",
            skip_invalid=True,
        )
    assert result.created == 0
    assert "127.0.0.1 is a loopback address" in str(result.as_dict()["rejected_sample"])
