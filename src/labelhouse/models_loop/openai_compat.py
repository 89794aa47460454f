"""OpenAI-compatible chat completions (``POST {base}/chat/completions``): the requests
for a prediction and for candidate responses, and reading their answers."""

from __future__ import annotations

from typing import Any

import orjson

from labelhouse.kinds.registry import LabelSchema
from labelhouse.models_loop.models import ModelEndpoint

SYSTEM_PREDICT = (
    "You pre-annotate one task of a data-labeling project. Reply with a single JSON object "
    "mapping each field name to its value, and nothing else. The fields (JSON): "
)


def chat_url(endpoint: ModelEndpoint) -> str:
    return endpoint.url.rstrip("/") + "/chat/completions"


def _payload(endpoint: ModelEndpoint, messages: list[dict[str, Any]], n: int) -> dict[str, Any]:
    body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
    if endpoint.temperature is not None:
        body["temperature"] = endpoint.temperature
    if n != 1:
        body["n"] = n
    return body


def prediction_request(
    endpoint: ModelEndpoint,
    schema: LabelSchema,
    sent: dict[str, Any],
    top_logprobs: int | None = None,
) -> dict[str, Any]:
    """The chat request for one task's prediction; with ``top_logprobs``, also asking for
    the answer's token log-probabilities (models_loop/logprobs.py reads them)."""
    fields = [f.model_dump(mode="json", exclude_none=True) for f in schema.fields]
    system = SYSTEM_PREDICT + orjson.dumps(fields).decode()
    user = orjson.dumps(sent).decode()
    body = _payload(
        endpoint, [{"role": "system", "content": system}, {"role": "user", "content": user}], 1
    )
    if top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = top_logprobs
    return body


def candidates_request(endpoint: ModelEndpoint, prompt: Any, n: int) -> dict[str, Any]:
    """The prompt as the conversation so far (a string is one user message)."""
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = [{"role": m.get("role"), "content": m.get("content")} for m in prompt]
    return _payload(endpoint, messages, n)


def _choices(body: Any) -> list[str]:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise ValueError("the answer has no 'choices' list (not a chat completion)")
    out = []
    for i, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise ValueError(f"choices[{i}] has no message content string")
        out.append(content)
    return out


def _strip_fence(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text.strip()


def read_prediction(body: Any) -> tuple[dict[str, Any], str]:
    """The answer's first choice as ``{field: value}`` (a JSON object, possibly fenced),
    and the reply's text as sent (where its log-probabilities' tokens come from)."""
    content = _choices(body)[0]
    try:
        value = orjson.loads(_strip_fence(content))
    except orjson.JSONDecodeError:
        shown = content[:80] + ("…" if len(content) > 80 else "")
        raise ValueError(f"the model's reply is not a JSON object: {shown!r}") from None
    if not isinstance(value, dict):
        raise ValueError("the model's reply is JSON but not an object of field values")
    return value, content


def read_candidates(body: Any) -> list[str]:
    return _choices(body)
