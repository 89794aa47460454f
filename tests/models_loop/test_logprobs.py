"""Token log-probabilities → class probabilities (models_loop/logprobs.py), on answers
shaped like OpenAI's: tokens split where real tokenizers split them, case and whitespace
variants, labels of several tokens, and what is refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

from labelhouse.kinds.registry import parse_schema
from labelhouse.models_loop.logprobs import class_scores, field_distribution, top_n


def schema(*options: str, kind: str = "choice") -> Any:
    field = {"name": "label", "kind": kind, "reads": ["text"]}
    field["options"] = [{"value": o} for o in options]
    return parse_schema({"fields": [field]})


def entry(token: str, p: float) -> dict[str, Any]:
    return {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}


def answer(*tokens: Any) -> tuple[dict[str, Any], str]:
    """A completion body whose first choice is these ``(token, p, [(alt, q), …])``."""
    content = [
        {**entry(t, p), "top_logprobs": [entry(t, p), *(entry(a, q) for a, q in alts)]}
        for t, p, alts in tokens
    ]
    text = "".join(t for t, _, _ in tokens)
    body = {"choices": [{"message": {"content": text}, "logprobs": {"content": content}}]}
    return body, text


def scores(s: Any, value: str, *tokens: Any) -> dict[str, float] | None:
    body, text = answer(*tokens)
    found = class_scores(body, text, {"label": value}, s)
    return None if found is None else found["label"]


def approx(d: dict[str, float]) -> dict[str, Any]:
    return {k: pytest.approx(v, abs=1e-9) for k, v in d.items()}


HEAD = [('{"', 1.0, []), ("label", 1.0, []), ('":', 1.0, [])]


def test_first_token_alternatives_become_a_normalised_distribution():
    s = schema("pos", "neg", "neu")
    got = scores(
        s, "pos", *HEAD, (' "', 1.0, []), ("pos", 0.6, [("neg", 0.3), ("neu", 0.05)]), ('"}', 1, [])
    )
    assert got == approx({"pos": 0.6 / 0.95, "neg": 0.3 / 0.95, "neu": 0.05 / 0.95})


def test_the_quote_glued_to_the_value_and_case_and_space_variants():
    s = schema("pos", "neg", "neu")
    # ` "pos` is one token: its alternatives carry the same lead, or another one.
    got = scores(
        s,
        "pos",
        *HEAD,
        (' "pos', 0.5, [(' "Pos', 0.1), ('"neg', 0.2), (' "NEG', 0.1), (" null", 0.1)]),
        ('"}', 1.0, []),
    )
    assert got == approx({"pos": 0.6 / 0.9, "neg": 0.3 / 0.9, "neu": 0.0})


def test_labels_of_several_tokens_follow_the_chosen_path():
    s = schema("negative", "neutral", "positive")
    got = scores(
        s,
        "neutral",
        *HEAD,
        (' "', 1.0, []),
        ("ne", 0.8, [("pos", 0.2)]),  # "ne" fits two options: the walk goes on
        ("utral", 0.75, [("gative", 0.25)]),  # given "ne"
        ('"}', 1.0, []),
    )
    assert got == approx({"negative": 0.2, "neutral": 0.6, "positive": 0.2})


def test_a_label_that_is_the_prefix_of_another_is_closed_by_its_quote():
    s = schema("neg", "negative", "pos")
    got = scores(
        s,
        "neg",
        *HEAD,
        (' "', 1.0, []),
        ("neg", 0.9, [("pos", 0.1)]),
        ('"}', 0.5, [("ative", 0.5)]),  # after "neg": the end of the string, or "ative"
    )
    assert got == approx({"neg": 0.45, "negative": 0.45, "pos": 0.1})


def test_ambiguous_and_unknown_alternatives_are_refused_not_guessed():
    s = schema("negative", "neutral", "positive")
    got = scores(
        s,
        "positive",
        *HEAD,
        (' "', 1.0, []),
        ("positive", 0.5, [("ne", 0.3), ("maybe", 0.2)]),  # "ne": which one? not said
        ('"}', 1.0, []),
    )
    assert got == {"negative": 0.0, "neutral": 0.0, "positive": 1.0}


def test_an_answer_without_logprobs_or_with_an_unlocatable_value_gives_none():
    s = schema("pos", "neg")
    body = {"choices": [{"message": {"content": '{"label": "pos"}'}}]}
    assert class_scores(body, '{"label": "pos"}', {"label": "pos"}, s) is None
    # The tokens are not the reply's text: nothing is located rather than mislocated.
    body, _ = answer(*HEAD, (' "', 1.0, []), ("pos", 0.6, [("neg", 0.4)]), ('"}', 1, []))
    assert class_scores(body, '{"label":"pos"}', {"label": "pos"}, s) is None
    # The value is escaped in the reply: not located, not guessed.
    s2 = schema("é", "e")
    body, text = answer(*HEAD, (' "\\u00e9"}', 1.0, []))
    assert class_scores(body, text, {"label": "é"}, s2) is None


def test_only_single_choice_fields_are_scored():
    multi = schema("a", "b", kind="choices")
    assert top_n(multi) is None
    assert top_n(schema("a", "b")) == 5
    assert top_n(schema(*(f"o{i}" for i in range(30)))) == 20
    body, text = answer(*HEAD, (' ["', 1.0, []), ("a", 0.5, [("b", 0.5)]), ('"]}', 1, []))
    assert class_scores(body, text, {"label": ["a"]}, multi) is None


def test_field_distribution_reads_bytes_for_split_characters():
    """A character split over two tokens (byte-level BPE): offsets are counted in bytes."""
    s = schema("café", "tea")
    field = s.fields[0]
    tokens = [
        {**entry('{"label": "', 1.0), "top_logprobs": []},
        {"token": "caf", "logprob": math.log(0.7), "bytes": list(b"caf"),
         "top_logprobs": [entry("caf", 0.7), entry("tea", 0.3)]},
        {"token": "\\xc3", "logprob": 0.0, "bytes": [0xC3], "top_logprobs": []},
        {"token": "\\xa9", "logprob": 0.0, "bytes": [0xA9], "top_logprobs": []},
        {**entry('"}', 1.0), "top_logprobs": []},
    ]  # fmt: skip
    got = field_distribution(tokens, '{"label": "café"}', field, "café")
    assert got == approx({"café": 0.7, "tea": 0.3})
