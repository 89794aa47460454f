"""Media by URL at import: what reading image sizes costs (docs/import.md, "Media by URL").

Imports N rows whose boxes image is an http:// URL on a local server (allow-listed, as an
administrator would allow an internal image host), into a fresh SQLite project, three ways:
sizes given in the rows (no fetch), sizes read from the server, and sizes read from a
server that answers each request after LATENCY ms (a remote image host). Prints rows/s.

    .venv/bin/python bench/bench_media_urls.py              # 2,000 rows, 50 ms latency
    .venv/bin/python bench/bench_media_urls.py --rows 500 --latency 100
"""

from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
from PIL import Image
from sqlalchemy import select

from labelhouse.accounts import service as accounts
from labelhouse.accounts.models import Membership
from labelhouse.db.engine import open_database
from labelhouse.db.migrate import upgrade
from labelhouse.media.sources import MediaSources
from labelhouse.net.addresses import AddressPolicy, parse_networks
from labelhouse.net.safe_fetch import FetchPolicy, SafeFetcher
from labelhouse.projects.service import create_project
from labelhouse.tasks import remote_media
from labelhouse.tasks.importer import run_import

SCHEMA = {
    "fields": [{"name": "objects", "kind": "boxes", "image": "image", "labels": [{"value": "cat"}]}]
}


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def serve(latency: float) -> ThreadingHTTPServer:
    body = png()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each answer waits on a delayed ACK (40 ms)

        def do_GET(self) -> None:
            time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def run(rows: int, latency: float, sized: bool, tmp: Path) -> float:
    httpd = serve(latency)
    port = httpd.server_address[1]
    url = f"sqlite:///{tmp / f'bench-{latency}-{sized}.db'}"
    db = open_database(url)
    upgrade(db.engine)
    with db.session() as s:
        user, _ = accounts.bootstrap_owner(
            s, email=f"o{time.time_ns()}@example.com", organization_name="B", password="x" * 12
        )
    with db.session() as s:
        org = s.scalar(select(Membership.organization_id).where(Membership.user_id == user.id))
        actor = accounts.actor_for(s, user_id=user.id, organization_id=org)
        pid = create_project(s, actor, name="media", schema=SCHEMA).id
    size = {"image_width": 640, "image_height": 480} if sized else {}
    data = b"".join(
        orjson.dumps({"image": f"http://127.0.0.1:{port}/img{i}.png", **size}) + b"\n"
        for i in range(rows)
    )
    policy = FetchPolicy(addresses=AddressPolicy(parse_networks("127.0.0.1/32")), allow_http=True)
    media = MediaSources(SafeFetcher(policy))
    started = time.perf_counter()
    result = run_import(db, actor, pid, io.BytesIO(data), filename="t.jsonl", media=media)
    elapsed = time.perf_counter() - started
    assert result.created == rows, result
    httpd.shutdown()
    db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=50.0, help="ms per request")
    args = parser.parse_args()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, latency, sized in (
            ("sizes in the rows (no fetch)", 0.0, True),
            ("sizes read, local server", 0.0, False),
            (f"sizes read, {args.latency:.0f} ms per request", args.latency / 1000, False),
        ):
            seconds = run(args.rows, latency, sized, Path(tmp))
            table.append(
                {
                    "case": label,
                    "rows": args.rows,
                    "seconds": f"{seconds:.2f}",
                    "rows/s": f"{args.rows / seconds:,.0f}",
                }
            )
    print(
        f"(size reads run {remote_media.THREADS} at a time, {remote_media.LOOKAHEAD_ROWS} rows ahead)"
    )
    for row in table:
        print(
            f"{row['case']:<34} {row['rows']:>7} rows {row['seconds']:>8} s {row['rows/s']:>8} rows/s"
        )


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main, http=True)
