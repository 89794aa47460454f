"""The edit kind: a rewritten reply stored with its diff to the original, agreement by
word similarity and the medoid as consensus."""

from __future__ import annotations

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.kinds.edit import original_of, sha256, similarity, word_diff
from labelhouse.kinds.registry import parse_schema

CHAT = [
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "The capital of France is Lyon."},
]


def schema(**config):
    return parse_schema([{"name": "e", "kind": "edit", **config}])


def test_value_keeps_final_text_and_diff_computed_on_the_server():
    s = schema(source="chat", message=-1, reads=["chat"])
    data = {"chat": CHAT}
    value = s.validate_annotation(
        {"e": {"text": "The capital of France is Paris.", "changed": False, "ops": []}}, data
    )["e"]
    assert value == {
        "text": "The capital of France is Paris.",
        "changed": True,
        "original_sha256": sha256("The capital of France is Lyon."),
        "ops": [["=", 25], ["-", "Lyon"], ["+", "Paris"], ["=", 1]],
    }
    assert original_of(value) == "The capital of France is Lyon."
    kept = s.validate_annotation({"e": "The capital of France is Lyon."}, data)["e"]
    assert kept["changed"] is False and kept["ops"] == [["=", 30]]


@pytest.mark.parametrize(
    ("original", "final"),
    [
        ("", "new text"),
        ("old text", ""),
        ("a b c d e", "a x c y e z"),
        ("Ünïcødé 😀 text, with punctuation!", "Unicode 😀 text; with more punctuation?!"),
        ("line one\nline two\n", "line one\n\nline 2\n"),
    ],
)
def test_original_is_rebuilt_from_any_diff(original, final):
    assert original_of({"text": final, "ops": word_diff(original, final)}) == original


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        ({"text": 3}, "e.text", "expected the edited text"),
        ({"txt": "a"}, "e", "unknown key 'txt'"),
        ({"text": "a\x00b"}, "e.text", "NUL character"),
        ({"text": "x" * 11}, "e.text", "too long: at most 10 characters"),
    ],
)
def test_invalid_values_say_what_to_fix(value, where, problem):
    with pytest.raises(InvalidInput) as exc:
        schema(max_length=10).validate_annotation({"e": value}, {"response": "abc"})
    detail = exc.value.details[0]
    assert detail.field == where and problem in detail.problem


def test_required_edit_is_not_answered_by_null():
    with pytest.raises(InvalidInput) as exc:
        schema().validate_annotation({"e": None}, {"response": "abc"})
    assert exc.value.details[0].problem == "required"


def test_check_data_wants_a_message_index_for_a_conversation():
    assert schema(source="chat").check_task_data({"chat": CHAT}) == [
        "'chat' is a conversation; set 'message' in field 'e' to the index of the reply to "
        "edit (-1 for the last message) (read by field 'e')"
    ]
    assert schema().check_task_data({"response": 5}) == [
        "'response' must be a string, got 5 (read by field 'e')"
    ]
    assert schema().check_task_data({}) == ["missing key 'response' (read by field 'e')"]


def test_agreement_is_word_similarity_and_consensus_the_medoid():
    field = schema().field("e")
    a = {"text": "Paris is the capital of France."}
    b = {"text": "Paris is the capital city of France."}
    c = {"text": "I do not know."}
    assert field.agreement_kind() == "edit"
    assert field.compare(a, a) == 1.0
    assert field.compare(a, b) == pytest.approx(similarity(a["text"], b["text"]))
    assert field.compare(a, c) < 0.3 < field.compare(a, b)
    value, confidence = field.merge([c, b, a])
    assert value == a  # closest to both others (ties go to the first answer)
    assert 0.0 < confidence < 1.0
    assert field.merge([a]) == (a, 1.0)
    assert field.merge([None]) == (None, 0.0)
    # gold weights can move the medoid
    heavy, _ = field.merge([a, c, c], weights=[1.0, 1.0, 1.0])
    assert heavy == c


def test_display_renders_the_original_reply():
    shown = schema(source="chat", message=-1, reads=["chat"]).display({"chat": CHAT})
    assert shown["e"]["original"] == "<p>The capital of France is Lyon.</p>\n"
    assert shown["e"]["data"]["chat"].startswith('<div class="lh-chat">')
