"""Edit: the annotator rewrites a model reply in place (a demonstration for SFT).

The field reads the original reply from the task data — ``source`` holding a string, or a
conversation with ``message`` naming the reply (``-1``: the last message) — and the
widget starts from it. The stored value keeps the final text and how it differs from the
original, computed here from the task (never trusted from the client), so exports can
emit SFT examples (the final text) and preference pairs (original → edited)::

    {"text": "final reply", "changed": true, "original_sha256": "<hex of the original>",
     "ops": [["=", 12], ["-", "old words"], ["+", "new words"], ["=", 30]]}

``ops`` is a word-level diff from the original to the final text: ``"="`` keeps that many
characters (code points) of both, ``"-"`` drops text of the original, ``"+"`` inserts text
of the final one; :func:`original_of` rebuilds the original from a value. A client sends
``{"text": "…"}`` (or the bare string); other keys it sends are recomputed.

Agreement between two annotators' final texts is a word-level similarity (difflib's
ratio over words: 1.0 identical … 0.0 nothing in common); the consensus is the medoid,
the answer most similar to all the others (weighted), with its mean similarity to them
as the confidence — an edit cannot be voted word by word without producing text nobody
wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from contextlib import suppress
from difflib import SequenceMatcher
from typing import Any, ClassVar, Literal

from pydantic import Field

from labelhouse.kinds._common import ConfigInt, DataKey, ReadsData, check_keys, plural, shown
from labelhouse.kinds.base import ValueProblem, vote_weights

# Words, runs of whitespace, single punctuation marks — as ``tokenize`` in widgets/lib/diff.js.
_TOKEN = re.compile(r"\s+|[\w'’]+|[^\s\w'’]", re.UNICODE)
_WORD = re.compile(r"[\w'’]+|[^\s\w'’]", re.UNICODE)  # the same without whitespace
MAX_CELLS = 4_000_000  # past this many word pairs the changed middle is replaced whole

Op = list[Any]  # ["=", n] | ["-", text] | ["+", text]


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _matching(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    """Matching blocks ``(i, j, n)`` of two token lists: shared prefix and suffix always,
    the middle by difflib unless it is too big (then it counts as replaced)."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    blocks = [(0, 0, start)] if start else []
    mid_a, mid_b = a[start:end_a], b[start:end_b]
    if mid_a and mid_b and len(mid_a) * len(mid_b) <= MAX_CELLS:
        matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=False)
        blocks += [(i + start, j + start, n) for i, j, n in matcher.get_matching_blocks() if n]
    if end_a < len(a):
        blocks.append((end_a, end_b, len(a) - end_a))
    return blocks


def word_diff(original: str, final: str) -> list[Op]:
    """The compact word diff from ``original`` to ``final`` (see the module note). As in
    the widgets' ``wordDiff``, a lone run of whitespace between two changes joins the
    change, so "a b" → "c d" reads as one replacement rather than four pieces."""
    a, b = tokenize(original), tokenize(final)
    runs: list[tuple[str, str]] = []
    i = j = 0
    for bi, bj, n in [*_matching(a, b), (len(a), len(b), 0)]:
        runs += [("-", t) for t in a[i:bi]] + [("+", t) for t in b[j:bj]]
        runs += [("=", t) for t in a[bi : bi + n]]
        i, j = bi + n, bj + n
    ops: list[Op] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        if removed:
            ops.append(["-", "".join(removed)])
        if added:
            ops.append(["+", "".join(added)])
        removed.clear()
        added.clear()

    for k, (op, text) in enumerate(runs):
        gap = (
            op == "="
            and text.isspace()
            and 0 < k < len(runs) - 1
            and runs[k - 1][0] != "="
            and runs[k + 1][0] != "="
        )
        if op == "-" or gap:
            removed.append(text)
        if op == "+" or gap:
            added.append(text)
        if op == "=" and not gap:
            flush()
            if ops and ops[-1][0] == "=":
                ops[-1][1] += len(text)
            else:
                ops.append(["=", len(text)])
    flush()
    return ops


def original_of(value: dict[str, Any]) -> str:
    """The original text a stored value was edited from (its final text and ``ops``)."""
    final, at, out = value["text"], 0, []
    for op, item in value["ops"]:
        if op == "=":
            out.append(final[at : at + item])
            at += item
        elif op == "+":
            at += len(item)
        else:
            out.append(item)
    return "".join(out)


def similarity(a: str, b: str) -> float:
    """Word-level similarity of two texts: difflib's ratio, 2·matched / total words (and
    punctuation marks; whitespace does not count)."""
    ta, tb = _WORD.findall(a), _WORD.findall(b)
    if not ta and not tb:
        return 1.0
    matched = sum(n for _, _, n in _matching(ta, tb))
    return 2.0 * matched / (len(ta) + len(tb))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EditField(ReadsData):
    kind: Literal["edit"] = "edit"
    kind_name: ClassVar[str] = "edit"

    source: DataKey = "response"
    message: ConfigInt | None = None  # with a conversation in ``source``: which message
    max_length: ConfigInt = Field(default=100_000, ge=1, le=1_000_000)

    def data_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.source, *self.reads)))

    def original(self, data: dict[str, Any]) -> str:
        """The reply being edited; ``ValueError`` (a sentence) when the data lacks it."""
        from labelhouse.kinds.conversation import looks_like_conversation, text_of

        value = data.get(self.source)
        if self.message is None and looks_like_conversation(value):
            raise ValueError(
                f"'{self.source}' is a conversation; set 'message' in field '{self.name}' to "
                "the index of the reply to edit (-1 for the last message)"
            )
        return text_of(value, self.message, self.source)

    def check_data(self, data: dict[str, Any]) -> list[str]:
        problems = super().check_data(data)
        if data.get(self.source) is not None:
            try:
                self.original(data)
            except ValueError as exc:
                if not any(str(exc) in p for p in problems):  # said already for ``reads``
                    problems.append(f"{exc} (read by field '{self.name}')")
        return problems

    def is_empty(self, value: Any) -> bool:
        # {"text": null}: the widget before anything was edited or kept
        return super().is_empty(value) or (
            isinstance(value, dict) and "text" in value and value["text"] is None
        )

    def validate_value(self, value: Any, data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict):
            check_keys(value, required=("text",), optional=("changed", "ops", "original_sha256"))
            text = value["text"]
        else:
            text = value
        where = ".text" if isinstance(value, dict) else ""
        if not isinstance(text, str):
            raise ValueProblem(
                f'expected the edited text, as {{"text": "…"}} or a string, got {shown(text)}',
                where,
            )
        if "\x00" in text:
            raise ValueProblem("the text contains a NUL character (\\u0000); remove it", where)
        if len(text) > self.max_length:
            raise ValueProblem(
                f"too long: at most {plural(self.max_length, 'character')} allowed "
                f"(got {len(text)}); shorten it",
                where,
            )
        try:
            original = self.original(data)
        except ValueError as exc:
            raise ValueProblem(f"this task's data cannot be annotated: {exc}") from None
        return {
            "text": text,
            "changed": text != original,
            "original_sha256": sha256(original),
            "ops": word_diff(original, text),
        }

    def display(self, data: dict[str, Any]) -> dict[str, Any]:
        """The conversations this field reads (as for rating) and the original reply as
        sanitized Markdown (``original``) for the widget's "before" view."""
        from labelhouse.markdown import render as render_markdown  # only pages need it

        out = super().display(data)
        with suppress(ValueError):  # a broken task: the widget shows what it can
            out["original"] = render_markdown(self.original(data), highlight=True)
        return out

    # -- quality ---------------------------------------------------------------------------
    def agreement_kind(self) -> str:
        return "edit"

    def compare(self, a: Any, b: Any) -> float:
        ta = a.get("text") if isinstance(a, dict) else None
        tb = b.get("text") if isinstance(b, dict) else None
        if not isinstance(ta, str) or not isinstance(tb, str):
            return 1.0 if a == b else 0.0
        return similarity(ta, tb)

    def merge(
        self,
        values: Sequence[Any],
        weights: Sequence[float] | None = None,
        *,
        data: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """The medoid answer and its weighted mean similarity to the others."""
        w = vote_weights(values, weights)
        kept = [
            (v, x)
            for v, x in zip(values, w, strict=True)
            if isinstance(v, dict) and isinstance(v.get("text"), str)
        ]
        if not kept:
            return None, 0.0
        if len(kept) == 1:
            return kept[0][0], 1.0
        best, best_score = None, -1.0
        for i, (v, _) in enumerate(kept):
            others = [(self.compare(v, u), x) for j, (u, x) in enumerate(kept) if j != i]
            total = sum(x for _, x in others)
            score = sum(s * x for s, x in others) / total if total > 0 else 0.0
            if score > best_score:  # ties: the first answer
                best, best_score = v, score
        return best, best_score
