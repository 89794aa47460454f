"""What spaCy and CoNLL share: a task's text and each answer's spans, and spaCy itself as
an optional dependency (the ``ml`` extra).

A task is written when at least one of its answers (per ``values``) has the spans field
(an empty list is a real answer: a text with nothing to mark). A labelled task whose text
is missing is counted (``tasks_without_text``), never dropped unseen.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from labelhouse.errors import InvalidInput, Problem
from labelhouse.exports.formats.values import Answer, answers

INSTALL = "pip install 'labelhouse[ml]'"


def spacy_installed() -> bool:
    """Whether spaCy can be imported, without importing it (that takes a second)."""
    return importlib.util.find_spec("spacy") is not None


def require_spacy(format_title: str) -> None:
    if not spacy_installed():
        raise InvalidInput(
            f"The {format_title} export needs spaCy, which is not installed here: {INSTALL}.",
            [Problem("format", f"spaCy is missing; {INSTALL}")],
        )


def check_language(lang: str) -> None:
    """``lang`` is a language spaCy has a blank pipeline for (``en``, ``de``, ``xx``…)."""
    from spacy.util import get_lang_class

    try:
        get_lang_class(lang)
    except Exception:  # spaCy raises ImportError or its own error for an unknown code
        raise InvalidInput(
            f"spaCy has no language '{lang}'.",
            [Problem("lang", "use a language code spaCy knows, e.g. en, de, fr, xx")],
        ) from None


def labelled_texts(
    record: Mapping[str, Any], field: Any, source: str, counts: Counter[str]
) -> Iterator[tuple[str, Answer, list[tuple[int, int, str]]]]:
    """Each answer of the task that has the spans field, with the task's text and the
    answer's spans as sorted ``(start, end, label)`` character offsets."""
    given = [a for a in answers(record, source) if isinstance(a.value.get(field.name), list)]
    if not given:
        return
    text = record["data"].get(field.source)
    if not isinstance(text, str):
        counts["tasks_without_text"] += 1
        return
    for answer in given:
        spans = sorted(
            (int(s["start"]), int(s["end"]), str(s["label"]))
            for s in answer.value[field.name]
            if isinstance(s, dict) and {"start", "end", "label"} <= s.keys()
        )
        yield text, answer, spans


def provenance(record: Mapping[str, Any], answer: Answer, field_name: str) -> dict[str, Any]:
    """Which task and answer a document comes from (spaCy keeps it in ``doc.user_data``)."""
    about: dict[str, Any] = {"task_id": record["id"], "external_id": record.get("external_id")}
    if answer.annotation is not None:
        about["annotation_id"] = answer.annotation["id"]
        about["annotator_id"] = answer.annotation["annotator_id"]
    else:
        merged = (record.get("consensus") or {}).get(field_name) or {}
        about["method"] = merged.get("method", answer.method)  # this field's own
        if answer.confidence is not None:
            about["confidence"] = answer.confidence.get(field_name)
    return about
