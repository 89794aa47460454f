"""A tiny real model server for the tests, on 127.0.0.1: OpenAI-compatible chat
completions (``POST /v1/chat/completions``) and a generic JSON endpoint (``POST /generic``).

What it answers depends on the request, so one server serves every test:
- a request with a system message is a prediction: ``{"label": "pos"}`` as the reply's
  JSON, or garbage when the task text contains "garble";
- without one it writes ``n`` candidates: ``"Candidate i to: <last user message>"``;
- a model named ``flaky…``: the first request for each body answers 503 (then it works).
Every request is logged (path, headers, JSON body) for the tests to assert on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Logged:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeModel:
    url: str
    log: list[Logged] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _completion(contents: list[str]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
            for i, c in enumerate(contents)
        ],
    }


def _handler(state: FakeModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", "0")))
            body = json.loads(raw)
            with state.lock:
                state.log.append(Logged(self.path, dict(self.headers.items()), body))
                first = raw.decode() not in state.seen
                state.seen.add(raw.decode())
            if self.path == "/generic":
                text = json.dumps(body.get("data"))
                if body.get("want") == "candidates":
                    n = int(body.get("n", 1))
                    return self._send(200, {"out": [f"Generic {i}" for i in range(n)]})
                label = "neg" if "item" in text else "neu"
                return self._send(200, {"result": {"label": label, "confidence": 0.75}})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": "no such path"})
            if str(body.get("model")).startswith("flaky") and first:
                return self._send(503, {"error": "warming up"})
            messages = body["messages"]
            if messages[0]["role"] == "system":
                user = messages[-1]["content"]
                reply = "I think it is positive!" if "garble" in user else '{"label": "pos"}'
                return self._send(200, _completion(["```json\n" + reply + "\n```"]))
            last = messages[-1]["content"]
            n = int(body.get("n", 1))
            return self._send(200, _completion([f"Candidate {i} to: {last}" for i in range(n)]))

    return Handler


@contextmanager
def fake_model_server() -> Iterator[FakeModel]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = FakeModel(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
