"""Class probabilities from an OpenAI-compatible answer's token log-probabilities.

A chat model answers a prediction with a JSON object such as ``{"label": "pos"}``. Asked
for ``logprobs`` with ``top_logprobs: N``, the server also says, for every token of that
answer, the N most likely tokens at that place. For each single-choice field, the tokens
where the field's value starts tell how likely each option was: that is the field's
distribution, stored as ``prediction.scores`` (``{field: {option: probability}}``) so the
queue's entropy and margin orders (``tasks/queue_order.py``) can use it.

How tokens become options (``docs/models.md`` says the same to users):

* The value is found in the reply text as ``"<field>": "<value>"`` (the first such place,
  its text exactly as JSON writes it); byte offsets locate the token it starts in.
* A token is compared with options case-insensitively, after dropping what comes before
  the value in the chosen token (``": "`` or `` "``) or, for an alternative, leading
  whitespace, quotes and colons; a ``"`` in a token ends the value.
* Multi-token options: a token names an option when exactly one option begins with the
  value text so far plus that token. While the chosen answer's own token still fits
  several options, the walk goes on to the next token, whose alternatives are
  probabilities *given* the prefix so far (so ``P(neutral) = P("ne") · P("utral" | "ne")``).
* Refused (left out of the distribution, which is then normalised over what is named):
  an alternative that fits no option (an answer outside the schema) or still fits several
  options when the walk cannot follow it (only the chosen path has log-probabilities).
* Options not among the top N get probability 0; the result is normalised to sum 1 over
  the field's options. A field whose value cannot be located (escaped characters, no
  log-probabilities for its tokens) gets no distribution; multiple choice, rating and the
  other kinds get none either (the first token of a list says which option comes first,
  not which options apply).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import orjson

from labelhouse.kinds.choice import ChoiceField
from labelhouse.kinds.registry import LabelSchema

MAX_TOP = 20  # OpenAI's limit for top_logprobs
MIN_TOP = 5
_LEAD = ' \t\r\n":'


def choice_fields(schema: LabelSchema) -> list[ChoiceField]:
    return [f for f in schema.fields if isinstance(f, ChoiceField)]


def top_n(schema: LabelSchema) -> int | None:
    """How many alternatives to ask for per token: enough for the largest single-choice
    field's options (5 to 20); None when the schema has no single-choice field."""
    fields = choice_fields(schema)
    if not fields:
        return None
    return min(MAX_TOP, max(MIN_TOP, *(len(f.options) for f in fields)))


def _tokens(body: Any) -> list[dict[str, Any]] | None:
    """The first choice's ``logprobs.content`` list, or None when the answer has none."""
    try:
        content = body["choices"][0]["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(content, list) or not all(
        isinstance(t, dict) and isinstance(t.get("token"), str) for t in content
    ):
        return None
    return content


def _token_bytes(token: dict[str, Any]) -> bytes:
    raw = token.get("bytes")
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return bytes(raw)
    return str(token["token"]).encode()


def _prob(entry: Any) -> float | None:
    lp = entry.get("logprob") if isinstance(entry, dict) else None
    if isinstance(lp, bool) or not isinstance(lp, int | float) or math.isnan(lp) or lp > 1e-6:
        return None
    return min(1.0, math.exp(lp))  # a rounding error may make a certain token's > 0


def _alternatives(token: dict[str, Any]) -> list[tuple[str, float]]:
    """The token's top alternatives as (text, probability), the chosen token included."""
    out: dict[str, float] = {}
    for alt in token.get("top_logprobs") or []:
        p = _prob(alt)
        if p is not None and isinstance(alt.get("token"), str):
            out.setdefault(alt["token"], p)
    chosen = _prob(token)
    if chosen is not None:
        out.setdefault(token["token"], chosen)
    return list(out.items())


def _value_start(content: str, field: str, value: str) -> int | None:
    """The character offset of ``value``'s text in ``"field": "value"``, or None."""
    name = orjson.dumps(field).decode()
    literal = orjson.dumps(value).decode()[1:-1]
    for m in re.finditer(re.escape(name) + r'\s*:\s*"', content):
        if content.startswith(literal, m.end()):
            return m.end()
    return None


def _matching(options: Sequence[str], text: str, closed: bool) -> list[str]:
    """The options ``text`` is (closed) or begins; case-insensitive unless two options
    differ only in case."""
    fold = len({o.lower() for o in options}) == len(options)
    norm = (lambda t: t.lower()) if fold else (lambda t: t)
    low = norm(text)
    if closed:
        return [o for o in options if norm(o) == low]
    return [o for o in options if norm(o).startswith(low)]


def _piece(text: str) -> tuple[str, bool]:
    """The part of a token that belongs to the value, and whether the value ends in it."""
    if '"' in text:
        return text.split('"', 1)[0], True
    return text, False


def field_distribution(
    tokens: list[dict[str, Any]], content: str, field: ChoiceField, value: str
) -> dict[str, float] | None:
    """One single-choice field's normalised distribution over its options, or None."""
    start = _value_start(content, field.name, value)
    if start is None:
        return None
    ends: list[int] = []
    at = 0
    for token in tokens:
        at += len(_token_bytes(token))
        ends.append(at)
    if at != len(content.encode()):
        return None  # the tokens are not the reply's text: nothing can be located
    offset = len(content[:start].encode())
    index = next((i for i, end in enumerate(ends) if end > offset), None)
    if index is None:
        return None
    options = [o.value for o in field.options]
    mass = dict.fromkeys(options, 0.0)
    lead = _token_bytes(tokens[index])[: offset - (ends[index - 1] if index else 0)]
    lead_text = lead.decode("utf-8", "replace")
    prefix, weight = "", 1.0
    for i in range(index, len(tokens)):
        token = tokens[i]
        chosen = token["token"]
        alternatives = _alternatives(token)
        if not alternatives:
            return None  # no log-probabilities here: the distribution is unknown
        chosen_piece, chosen_closed = _piece(chosen[len(lead_text) :] if i == index else chosen)
        for text, p in alternatives:
            if text == chosen:
                continue
            if i == index:
                text = text.removeprefix(lead_text).lstrip(_LEAD)
            piece, closed = _piece(text)
            if not piece and not (closed and i > index):
                continue  # the value would start in another token: not comparable
            found = _matching(options, prefix + piece, closed)
            if len(found) == 1:
                mass[found[0]] += weight * p
        chosen_p = dict(alternatives).get(chosen)
        if chosen_p is None:
            return None
        prefix += chosen_piece
        found = _matching(options, prefix, chosen_closed)
        if len(found) <= 1 or chosen_closed:
            if found:
                mass[found[0]] += weight * chosen_p
            break
        weight *= chosen_p
    else:
        return None  # the reply ended inside the value
    total = sum(mass.values())
    if total <= 0:
        return None
    return {o: p / total for o, p in mass.items()}


def class_scores(
    body: Any, content: str, value: dict[str, Any], schema: LabelSchema
) -> dict[str, dict[str, float]] | None:
    """``{field: {option: probability}}`` for the single-choice fields the answer's
    log-probabilities describe; None when it has none (a server that ignores the request)."""
    tokens = _tokens(body)
    if not tokens:
        return None
    out: dict[str, dict[str, float]] = {}
    for field in choice_fields(schema):
        chosen = value.get(field.name)
        if isinstance(chosen, str):
            found = field_distribution(tokens, content, field, chosen)
            if found is not None:
                out[field.name] = found
    return out or None
