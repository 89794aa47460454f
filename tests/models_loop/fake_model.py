"""A tiny real model server for the tests, on 127.0.0.1: OpenAI-compatible chat
completions (``POST /v1/chat/completions``) and a generic JSON endpoint (``POST /generic``).

What it answers depends on the request, so one server serves every test:
- a request with a system message is a prediction: ``{"label": "pos"}`` as the reply's
  JSON, or garbage when the task text contains "garble";
- the generic endpoint answers ``{"result": {"label", "confidence", "probs"}}`` (``probs``
  class probabilities, out of range when the task text contains "badprobs");
- without one it writes ``n`` candidates: ``"Candidate i to: <last user message>"``;
- a model named ``flaky…``: the first request for each body answers 503 (then it works);
- asked for ``logprobs``, a prediction comes with token log-probabilities: the tokens of
  ``scripts[task text]`` (``[token, probability, [[alternative, probability], …]]`` each,
  the reply being their text) or a default split of ``{"label": "pos"}`` (pos 0.7, neg 0.2,
  neu 0.05, "positive" 0.03); a model named ``nologprobs…`` answers such a request 400 (as
  OpenAI does for models without them) and one named ``plain…`` ignores the option.
Every request is logged (path, headers, JSON body) for the tests to assert on.
"""

from __future__ import annotations

import json
import math
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
    scripts: dict[str, list[Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


DEFAULT_TOKENS: list[Any] = [
    ["```", 1.0, []],
    ["json", 1.0, []],
    ["\n", 1.0, []],
    ['{"', 1.0, []],
    ["label", 0.99, []],
    ['":', 1.0, []],
    [' "', 1.0, []],
    ["pos", 0.7, [["neg", 0.2], ["neu", 0.05], ["positive", 0.03]]],
    ['"}', 1.0, []],
    ["\n", 1.0, []],
    ["```", 1.0, []],
]


def _entry(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


def _logprobs(tokens: list[Any]) -> dict[str, Any]:
    return {
        "content": [
            {**_entry(t, p), "top_logprobs": [_entry(t, p)] + [_entry(a, q) for a, q in alts]}
            for t, p, alts in tokens
        ]
    }


def _completion(contents: list[str], logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
        for i, c in enumerate(contents)
    ]
    if logprobs is not None:
        choices[0]["logprobs"] = logprobs
    return {"id": "chatcmpl-test", "object": "chat.completion", "choices": choices}


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
                probs = {"label": {"neg": 2.0} if "badprobs" in text else {"neg": 0.6, "pos": 0.4}}
                return self._send(
                    200, {"result": {"label": label, "confidence": 0.75, "probs": probs}}
                )
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": "no such path"})
            if str(body.get("model")).startswith("flaky") and first:
                return self._send(503, {"error": "warming up"})
            messages = body["messages"]
            if messages[0]["role"] == "system":
                user = messages[-1]["content"]
                reply = "I think it is positive!" if "garble" in user else '{"label": "pos"}'
                content = "```json\n" + reply + "\n```"
                model = str(body.get("model"))
                if not body.get("logprobs") or model.startswith("plain"):
                    return self._send(200, _completion([content]))
                if model.startswith("nologprobs"):
                    error = {"message": "logprobs is not supported with this model"}
                    return self._send(400, {"error": error})
                tokens = state.scripts.get(json.loads(user).get("text"), DEFAULT_TOKENS)
                if "garble" in user:
                    tokens = [[content, 1.0, []]]
                content = "".join(t for t, _, _ in tokens)
                return self._send(200, _completion([content], _logprobs(tokens)))
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
