"""What one task asks of a model and what comes back: the request for a prediction or for
candidate responses (OpenAI-compatible or generic), and the answer read and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelhouse.errors import InvalidInput
from labelhouse.kinds._responses import ResponsesField
from labelhouse.kinds.registry import LabelSchema
from labelhouse.models_loop import generic, openai_compat
from labelhouse.models_loop.client import ModelClient
from labelhouse.models_loop.models import ModelEndpoint


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


def predict(
    client: ModelClient,
    endpoint: ModelEndpoint,
    api_key: str | None,
    schema: LabelSchema,
    fields: list[str],
    job: TaskData,
) -> tuple[Any, int]:
    sent = _sent(job.data, fields)
    if endpoint.kind == "openai":
        reply = client.post_json(
            openai_compat.chat_url(endpoint),
            openai_compat.prediction_request(endpoint, schema, sent),
            api_key,
        )
        value, score = openai_compat.read_prediction(reply.body)
    else:
        reply = client.post_json(
            endpoint.url, generic.request_body(sent, "predictions", 1), api_key
        )
        value, score = generic.read_prediction(reply.body, endpoint.mapping)
    try:
        clean = schema.validate_annotation(value, job.data, draft=True)
    except InvalidInput as exc:
        problems = "; ".join(f"{d.field}: {d.problem}" for d in exc.details)
        raise ValueError(f"the model's answer does not fit the schema ({problems})") from None
    return (clean, score), reply.status


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
