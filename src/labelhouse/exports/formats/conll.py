"""CoNLL-2003 named-entity text (IOB2 tags) from a spans field.

One line per token, ``TOKEN _ _ TAG`` (part-of-speech and chunk columns are unknown, so
``_``), a blank line after each sentence, and ``-DOCSTART- -X- -X- O`` and a blank line at
the start of each document (one document per answer: each annotator's with raw values, one
per task with consensus or reviewed values). Tags are IOB2: ``B-<label>`` on a span's first
token, ``I-<label>`` on the others, ``O`` outside; whitespace in a label becomes ``_`` so
every line keeps four columns.

Tokens: spaCy's blank tokenizer for ``lang`` when spaCy is installed (``tokenizer=auto``, the
default, or ``spacy``), otherwise (or with ``tokenizer=regex``) :data:`TOKEN`: runs of word
characters joined by inner ``-``, ``'`` or ``’`` (``don't``, ``state-of-the-art``), or one
other non-space character. Whitespace is never a token.

Spans are character offsets; a span tags every token it touches (like spaCy's ``expand``).
A span that touches no token (only whitespace) is counted as ``unaligned_spans``. IOB2 gives
each token one tag, so overlapping spans cannot all be written: the longest is kept (the
first of equally long ones) and each span it overlaps is counted as
``overlapping_spans_dropped``, the same rule as ``spacy.util.filter_spans``.

Sentences end after a token ``.``, ``!``, ``?`` or ``…``, or where a blank line separates
two tokens, except inside a span. Writing is streamed, one document at a time.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats._options import FIELD_HELP, VALUES_HELP, common
from labelhouse.exports.formats._text import (
    check_language,
    labelled_texts,
    require_spacy,
    spacy_installed,
)
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

DESCRIPTION = "CoNLL-2003 NER text with IOB2 tags (TOKEN _ _ TAG) from a spans field"
TOKENIZERS = ("auto", "spacy", "regex")
OPTION_HELP: tuple[OptionHelp, ...] = (
    OptionHelp("field", FIELD_HELP),
    OptionHelp("values", VALUES_HELP, choices=VALUE_SOURCES),
    OptionHelp(
        "tokenizer",
        "auto (spaCy's when installed, else regex), spacy or regex",
        choices=("auto", "spacy", "regex"),
    ),
    OptionHelp("lang", "the spaCy language whose blank tokenizer is used (default en)"),
)
TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")
SENTENCE_END = frozenset({".", "!", "?", "…"})
BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
DOCSTART = "-DOCSTART- -X- -X- O\n\n"

Token = tuple[str, int, int]  # text, start, end (character offsets)


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    parsed = common(schema, options, "spans", "CoNLL", ("tokenizer", "lang"))
    tokenizer = opts.choice(options, "tokenizer", TOKENIZERS)
    if tokenizer == "auto":
        tokenizer = "spacy" if spacy_installed() else "regex"
    if tokenizer == "spacy":
        require_spacy("CoNLL (tokenizer=spacy)")
        parsed["lang"] = options.get("lang", "en")
        check_language(parsed["lang"])
    parsed["tokenizer"] = tokenizer  # lang is unused by the regex tokenizer
    return parsed


def regex_tokens(text: str) -> list[Token]:
    return [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def spacy_tokenizer(lang: str) -> Callable[[str], list[Token]]:
    import spacy

    from labelhouse.exports.formats.spacy_docbin import NO_LIMIT

    nlp = spacy.blank(lang)
    nlp.max_length = NO_LIMIT

    def tokens(text: str) -> list[Token]:
        return [(t.text, t.idx, t.idx + len(t.text)) for t in nlp.make_doc(text) if t.text.strip()]

    return tokens


def tags(tokens: list[Token], spans: list[tuple[int, int, str]], counts: Counter[str]) -> list[str]:
    """IOB2 tags of ``tokens`` (see the module docstring for overlaps and unaligned spans)."""
    starts = [a for _, a, _ in tokens]
    ends = [b for _, _, b in tokens]
    placed: list[tuple[int, int, str]] = []  # token ranges [first, stop) with a label
    for start, end, label in spans:
        first = bisect.bisect_right(ends, start)  # the first token ending after start
        stop = bisect.bisect_left(starts, end)  # past the last token starting before end
        if first >= stop:
            counts["unaligned_spans"] += 1
            continue
        placed.append((first, stop, re.sub(r"\s+", "_", label)))
    placed.sort(key=lambda p: (-(p[1] - p[0]), p[0], p[1], p[2]))
    out = ["O"] * len(tokens)
    taken: set[int] = set()
    for first, stop, label in placed:
        if taken.intersection(range(first, stop)):
            counts["overlapping_spans_dropped"] += 1
            continue
        taken.update(range(first, stop))
        out[first] = f"B-{label}"
        for i in range(first + 1, stop):
            out[i] = f"I-{label}"
    return out


def document(text: str, tokens: list[Token], token_tags: list[str]) -> str:
    """One document's lines: sentences separated by a blank line."""
    lines = [DOCSTART]
    for i, ((token, _start, end), tag) in enumerate(zip(tokens, token_tags, strict=True)):
        lines.append(f"{token} _ _ {tag}\n")
        last = i + 1 == len(tokens)
        if last:
            lines.append("\n")
            continue
        continues_span = token_tags[i + 1].startswith("I-")
        gap = text[end : tokens[i + 1][1]]
        if not continues_span and (token in SENTENCE_END or BLANK_LINE.search(gap)):
            lines.append("\n")
    return "".join(lines)


def write_conll(
    records: Iterable[dict[str, Any]], *, schema: Any, options: Mapping[str, Any], **_: Any
) -> Iterator[bytes]:
    def pieces() -> Iterator[bytes]:
        field = schema.field(options["field"])
        counts: Counter[str] = options.get("counts", Counter())
        tokenize = (
            spacy_tokenizer(options.get("lang", "en"))
            if options.get("tokenizer") == "spacy"
            else regex_tokens
        )
        for record in records:
            for text, _answer, spans in labelled_texts(record, field, options["values"], counts):
                tokens = tokenize(text)
                if not tokens:
                    counts["documents_without_tokens"] += 1
                    continue
                yield document(text, tokens, tags(tokens, spans, counts)).encode()

    from labelhouse.exports.writers import _chunked  # writers registers this module

    return _chunked(pieces())
