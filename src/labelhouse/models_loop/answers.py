"""What one task asks of a model and what comes back: the request for a prediction or for
candidate responses (OpenAI-compatible or generic), and the answer read and checked."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from labelhouse.errors import InvalidInput
from labelhouse.kinds._responses import ResponsesField
from labelhouse.kinds.registry import LabelSchema
from labelhouse.models_loop import generic, logprobs, openai_compat
from labelhouse.models_loop.client import CallFailed, ModelClient, Reply
from labelhouse.models_loop.models import ModelEndpoint
from labelhouse.tasks.queue_order import check_scores

REFUSED_OPTION = (400, 422)  # what a server says to a request option it does not take


@dataclass(frozen=True)
class Target:
    """Where candidates go: a responses field's data keys and how many it needs."""

    field: str
    prompt: str
    responses: str
    count: int


def targets(schema: LabelSchema, endpoint: ModelEndpoint) -> list[Target]:
    """The pairwise/ranking fields whose candidates a model can write, one per data key."""
    out: dict[str, Target] = {}
    for f in schema.fields:
        if isinstance(f, ResponsesField) and f.prompt is not None and f.responses not in out:
            count = min(max(endpoint.candidates, f.min_responses), f.max_responses)
            out[f.responses] = Target(f.name, f.prompt, f.responses, count)
    return list(out.values())


@dataclass(frozen=True)
class TaskData:
    """What one task needs from the database, read before the calls."""

    task_id: int
    data: dict[str, Any]


def _sent(data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {f: data[f] for f in fields if f in data}


@dataclass
class Logprobs:
    """One run's asking for token log-probabilities (OpenAI-compatible endpoints): asked
    for when the schema has a single-choice field (``top``: alternatives per token). The
    first request finds out whether the server takes the option (the run's other threads
    wait for that answer); one that refuses it (a 400 or 422 where the same request without
    it is answered) is not asked for them again in the run."""

    top: int | None
    known: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_schema(cls, schema: LabelSchema) -> Logprobs:
        return cls(logprobs.top_n(schema))


def _ask_openai(
    client: ModelClient,
    endpoint: ModelEndpoint,
    api_key: str | None,
    schema: LabelSchema,
    sent: dict[str, Any],
    asking: Logprobs,
) -> tuple[Reply, bool]:
    """The reply, and whether log-probabilities were asked for in it."""
    if asking.top is None or asking.known:
        return _post_prediction(client, endpoint, api_key, schema, sent, asking)
    with asking.lock:  # the first request tells whether the server takes them
        return _post_prediction(client, endpoint, api_key, schema, sent, asking)


def _post_prediction(
    client: ModelClient,
    endpoint: ModelEndpoint,
    api_key: str | None,
    schema: LabelSchema,
    sent: dict[str, Any],
    asking: Logprobs,
) -> tuple[Reply, bool]:
    url = openai_compat.chat_url(endpoint)
    top = asking.top
    try:
        request = openai_compat.prediction_request(endpoint, schema, sent, top)
        reply = client.post_json(url, request, api_key)
        asking.known = True
        return reply, top is not None
    except CallFailed as exc:
        if top is None or exc.status not in REFUSED_OPTION:
            raise
    reply = client.post_json(url, openai_compat.prediction_request(endpoint, schema, sent), api_key)
    asking.top, asking.known = None, True  # answered without them: the server does not take them
    return reply, False


def predict(
    client: ModelClient,
    endpoint: ModelEndpoint,
    api_key: str | None,
    schema: LabelSchema,
    fields: list[str],
    job: TaskData,
    asking: Logprobs | None = None,
) -> tuple[Any, int]:
    """One task's prediction: ``(value, score, scores)`` and the HTTP status. ``scores``
    (class probabilities per field) come from an OpenAI-compatible answer's
    log-probabilities, when it has them, or a generic answer's ``scores`` path."""
    sent = _sent(job.data, fields)
    scores: dict[str, dict[str, float]] | None = None
    if endpoint.kind == "openai":
        reply, asked = _ask_openai(
            client, endpoint, api_key, schema, sent, asking or Logprobs(None)
        )
        value, content = openai_compat.read_prediction(reply.body)
        score = None
    else:
        reply = client.post_json(
            endpoint.url, generic.request_body(sent, "predictions", 1), api_key
        )
        value, score = generic.read_prediction(reply.body, endpoint.mapping)
        given = generic.read_scores(reply.body, endpoint.mapping)
        if given is not None:
            checked = check_scores(given, [f.name for f in schema.fields])
            if isinstance(checked, str):
                raise ValueError(f"the answer's {checked} (at '{endpoint.mapping['scores']}')")
            scores = checked
        asked = False
    try:
        clean = schema.validate_annotation(value, job.data, draft=True)
    except InvalidInput as exc:
        problems = "; ".join(f"{d.field}: {d.problem}" for d in exc.details)
        raise ValueError(f"the model's answer does not fit the schema ({problems})") from None
    if asked:
        found = logprobs.class_scores(reply.body, content, clean, schema)
        derived = check_scores(found, [f.name for f in schema.fields]) if found else None
        scores = derived if isinstance(derived, dict) else None
    return (clean, score, scores), reply.status


def candidates(
    client: ModelClient,
    endpoint: ModelEndpoint,
    api_key: str | None,
    targets_: list[Target],
    job: TaskData,
) -> tuple[Any, int]:
    """New responses per target whose responses are missing or empty (else nothing)."""
    out: dict[str, list[str]] = {}
    status = 0
    for t in targets_:
        if job.data.get(t.responses) or job.data.get(t.prompt) is None:
            continue
        texts: list[str] = []
        for _ in range(t.count):  # servers that ignore n answer one at a time
            need = t.count - len(texts)
            if endpoint.kind == "openai":
                reply = client.post_json(
                    openai_compat.chat_url(endpoint),
                    openai_compat.candidates_request(endpoint, job.data[t.prompt], need),
                    api_key,
                )
                got = openai_compat.read_candidates(reply.body)
            else:
                body = generic.request_body({t.prompt: job.data[t.prompt]}, "candidates", need)
                reply = client.post_json(endpoint.url, body, api_key)
                got = generic.read_candidates(reply.body, endpoint.mapping)
            status = reply.status
            texts.extend(got[:need])
            if len(texts) >= t.count:
                break
        if len(texts) < t.count:
            raise ValueError(f"the model gave {len(texts)} candidates, {t.count} are needed")
        out[t.responses] = texts
    return out, status
