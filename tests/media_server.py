"""A real HTTP server on a loopback address for the media-by-URL tests (threaded, stdlib):
images, redirects, slow and oversized answers. Each request's Host header is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers_data import png_bytes

PNG = png_bytes(37, 21)

Route = Callable[[BaseHTTPRequestHandler], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    if "content_length" not in headers and "transfer_encoding" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def image(handler: BaseHTTPRequestHandler) -> None:
    wanted = handler.headers.get("Range", "")
    if wanted.startswith("bytes=0-"):
        end = int(wanted.removeprefix("bytes=0-")) + 1
        send(handler, 206, PNG[:end], content_type="image/png")
    else:
        send(handler, 200, PNG, content_type="image/png")


def redirect(location: str) -> Route:
    return lambda h: send(h, 302, location=location)


def chunked(size: int, content_type: str = "image/png", pause: float = 0.0) -> Route:
    """``size`` bytes without a Content-Length (chunked), optionally slowly."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        sent = 0
        try:
            while sent < size:
                piece = b"\0" * min(16384, size - sent)
                h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                h.wfile.flush()
                sent += len(piece)
                time.sleep(pause)
            h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    return route


def silent(seconds: float) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        with suppress(BrokenPipeError, ConnectionResetError):
            send(h, 200, PNG, content_type="image/png")

    return route


class MediaServer:
    def __init__(self, host: str) -> None:
        self.routes: dict[str, Route] = {"/img.png": image}
        self.hosts_seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits on a delayed ACK (40 ms)

            def do_GET(self) -> None:
                server.hosts_seen.append(self.headers.get("Host", ""))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    send(self, 404, b"missing", content_type="text/plain")
                else:
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


@contextmanager
def media_server(host: str = "127.0.0.1") -> Iterator[MediaServer]:
    server = MediaServer(host)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
