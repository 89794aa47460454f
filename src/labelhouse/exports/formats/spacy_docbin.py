"""spaCy training data (``.spacy``, a serialised ``DocBin``) from a spans field.

One ``Doc`` per answer (raw values: each annotator's; consensus or reviewed: one per task),
tokenised by ``spacy.blank(lang)`` (no model download). Spans are character offsets; a
``Doc`` holds token spans, so each is aligned with ``doc.char_span(start, end,
alignment_mode=...)``: ``expand`` (the default) widens it to the tokens it touches,
``contract`` narrows it to the tokens fully inside, ``strict`` keeps only spans already on
token boundaries. A span that cannot be aligned is never dropped unseen: the doc lists it
in ``doc.user_data["labelhouse"]["unaligned_spans"]`` as ``(start, end, label)``, its tokens
are marked *missing* in ``doc.ents`` (not "outside"), and the export counts it
(``unaligned_spans``).

Every aligned span is in ``doc.spans["sc"]`` (spancat's default key). ``doc.ents`` holds the
spans that overlap no other span; tokens of overlapping spans are marked missing there, so
an NER model learns neither "entity" nor "outside" from them (count: ``overlapping_spans``).

``doc.user_data["labelhouse"]`` also says where the doc comes from (task id, external id,
and annotation and annotator ids, or the consensus method and confidence).

Memory stays flat in the number of docs: one ``.spacy`` is written by
:mod:`._docbin_stream` (the same bytes as ``DocBin.to_bytes``, without holding the docs).
With ``shard_size=N`` the export is a zip of ``.spacy`` files of at most N docs each
(``docs-00001.spacy``, ...), the layout ``spacy train`` reads as a directory; each shard
gets a fresh blank pipeline, so neither the vocab nor the strings grow past one shard's.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import chain, count, islice
from typing import Any

from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.archive import zip_stream
from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats._docbin_stream import docbin_chunks
from labelhouse.exports.formats._options import FIELD_HELP, VALUES_HELP, common
from labelhouse.exports.formats._text import (
    check_language,
    labelled_texts,
    provenance,
    require_spacy,
)
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import VALUE_SOURCES

DESCRIPTION = (
    "spaCy DocBin (.spacy) for NER and span categorisation: doc.ents and doc.spans['sc'] "
    "from a spans field (needs the ml extra)"
)
ALIGNMENT_MODES = ("expand", "contract", "strict")
SPAN_KEY = "sc"
# spaCy refuses texts over a million characters (E088) for the memory its parser and NER
# would take; a blank pipeline only tokenises, and an error mid-download would cut the file.
NO_LIMIT = 2**62
OPTION_HELP: tuple[OptionHelp, ...] = (
    OptionHelp("field", FIELD_HELP),
    OptionHelp("values", VALUES_HELP, choices=VALUE_SOURCES),
    OptionHelp("lang", "the spaCy language whose blank tokenizer splits the text (default en)"),
    OptionHelp(
        "alignment_mode",
        "how spans snap to tokens: expand (default), contract or strict",
        choices=("expand", "contract", "strict"),
    ),
    OptionHelp(
        "shard_size",
        "write a zip of .spacy files of at most this many docs each (default: one .spacy)",
    ),
)


def parse_options(schema: Any, options: Mapping[str, str]) -> dict[str, Any]:
    parsed = common(schema, options, "spans", "spaCy", ("lang", "alignment_mode", "shard_size"))
    parsed["alignment_mode"] = opts.choice(options, "alignment_mode", ALIGNMENT_MODES)
    parsed["shard_size"] = _shard_size(options)
    require_spacy("spaCy")
    parsed["lang"] = options.get("lang", "en")
    check_language(parsed["lang"])
    return parsed


def _shard_size(options: Mapping[str, str]) -> int | None:
    size = opts.number(options, "shard_size")
    if size is None:
        return None
    if size != int(size) or size < 1:
        raise InvalidInput(
            f"The option shard_size must be a whole number of docs, got '{options['shard_size']}'.",
            [Problem("shard_size", "a whole number of at least 1, e.g. 10000")],
        )
    return int(size)


def file_kind(options: Mapping[str, Any]) -> tuple[str, str]:
    """A zip of shards with ``shard_size``, else one ``.spacy``."""
    if options.get("shard_size"):
        return "application/zip", "spacy.zip"
    return "application/octet-stream", "spacy"


def _token_ranges(indices: set[int]) -> list[tuple[int, int]]:
    """Sorted token indices as contiguous ``[start, end)`` ranges."""
    ranges: list[tuple[int, int]] = []
    for i in sorted(indices):
        if ranges and ranges[-1][1] == i:
            ranges[-1] = (ranges[-1][0], i + 1)
        else:
            ranges.append((i, i + 1))
    return ranges


def make_doc(
    nlp: Any, text: str, spans: list[tuple[int, int, str]], mode: str, counts: Counter[str]
) -> tuple[Any, list[tuple[int, int, str]]]:
    """The doc of one answer, and the spans that could not be aligned."""
    from spacy.tokens import Span

    doc = nlp.make_doc(text)
    aligned: dict[tuple[int, int, str], Any] = {}
    unaligned: list[tuple[int, int, str]] = []
    undecided: set[int] = set()  # token indices that are neither entity nor outside
    for start, end, label in spans:
        span = doc.char_span(start, end, label=label, alignment_mode=mode)
        if span is None or len(span) == 0:
            unaligned.append((start, end, label))
            wide = doc.char_span(start, end, alignment_mode="expand")
            if wide is not None:
                undecided.update(range(wide.start, wide.end))
            continue
        aligned.setdefault((span.start, span.end, label), span)
    ordered = [aligned[key] for key in sorted(aligned)]
    doc.spans[SPAN_KEY] = ordered
    covered = Counter(i for span in ordered for i in range(span.start, span.end))
    ents = [s for s in ordered if all(covered[i] == 1 for i in range(s.start, s.end))]
    entity_tokens = {i for s in ents for i in range(s.start, s.end)}
    overlapping = [s for s in ordered if any(covered[i] > 1 for i in range(s.start, s.end))]
    counts["overlapping_spans"] += len(overlapping)
    counts["unaligned_spans"] += len(unaligned)
    undecided.update(i for s in overlapping for i in range(s.start, s.end))
    missing = [Span(doc, a, b) for a, b in _token_ranges(undecided - entity_tokens)]
    doc.set_ents(ents, missing=missing, default="outside")
    return doc, unaligned


def docs(
    records: Iterable[dict[str, Any]], schema: Any, options: Mapping[str, Any], pipeline: list[Any]
) -> Iterator[Any]:
    """The docs of the export, in record order, each made by ``pipeline[0]`` (a one-item
    list: shards swap in a fresh blank pipeline between docs)."""
    field = schema.field(options["field"])
    counts: Counter[str] = options.get("counts", Counter())
    for record in records:
        for text, answer, spans in labelled_texts(record, field, options["values"], counts):
            doc, unaligned = make_doc(pipeline[0], text, spans, options["alignment_mode"], counts)
            about = provenance(record, answer, field.name)
            about["unaligned_spans"] = [list(s) for s in unaligned]
            doc.user_data["labelhouse"] = about
            yield doc


_ENCODERS_LOCK = threading.Lock()
_ENCODERS_USERS = 0


@contextmanager
def _encoders_looked_up_once() -> Iterator[None]:
    """srsly builds a msgpack packer three times per ``DocBin.add`` and each build asks
    ``catalogue`` for the registered encoders, which scans every installed distribution's
    entry points and walks spaCy's whole function registry (~4 ms per doc in a full
    environment: 285 s for 20,000 docs). The set cannot change while exports write, so it
    is looked up once and served from that answer until the last concurrent export ends
    (counted under a lock: exports run on several request and job threads)."""
    from srsly.msgpack import msgpack_encoders

    global _ENCODERS_USERS
    with _ENCODERS_LOCK:
        if _ENCODERS_USERS == 0:
            encoders = msgpack_encoders.get_all()
            msgpack_encoders.get_all = lambda: encoders  # type: ignore[method-assign]
        _ENCODERS_USERS += 1
    try:
        yield
    finally:
        with _ENCODERS_LOCK:
            _ENCODERS_USERS -= 1
            if _ENCODERS_USERS == 0:
                del msgpack_encoders.get_all  # the class's method again


def _blank(options: Mapping[str, Any]) -> Any:
    import spacy

    nlp = spacy.blank(options.get("lang", "en"))
    nlp.max_length = NO_LIMIT
    return nlp


def _shards(
    records: Iterable[dict[str, Any]], schema: Any, options: Mapping[str, Any]
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """``(member name, bytes)`` per shard of at most ``shard_size`` docs, at least one (an
    export without docs is a zip with one empty ``.spacy``). ``zip_stream`` writes a member
    whole before asking for the next, so the pipeline is swapped between shards."""
    size = options["shard_size"]
    pipeline = [_blank(options)]
    made = docs(records, schema, options, pipeline)
    first = next(made, None)
    for number in count(1):
        shard = [] if first is None else chain([first], islice(made, size - 1))
        yield f"docs-{number:05d}.spacy", docbin_chunks(shard)
        pipeline[0] = _blank(options)  # the next shard's vocab starts empty
        first = next(made, None)
        if first is None:
            return


def write_spacy(
    records: Iterable[dict[str, Any]], *, schema: Any, options: Mapping[str, Any], **_: Any
) -> Iterator[bytes]:
    def pieces() -> Iterator[bytes]:
        from labelhouse.exports.writers import _chunked  # writers registers this module

        with _encoders_looked_up_once():
            if options.get("shard_size"):
                yield from zip_stream(_shards(records, schema, options))
            else:
                made = docs(records, schema, options, [_blank(options)])
                yield from _chunked(docbin_chunks(made))

    return pieces()
