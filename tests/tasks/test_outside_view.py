"""What a vendor is shown (pure): hidden keys, redaction with visible placeholders, the
canary marker and which transformations of leaked text keep or remove it, and the policy
validator's refusals."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import orjson
import pytest

from labelhouse.errors import InvalidInput
from labelhouse.tasks.canary import encode_marker, find_markers, strip_markers
from labelhouse.tasks.outside_view import (
    OutsidePolicy,
    RedactRule,
    compile_policy,
    outside_view,
    parse_policy,
    pattern_problem,
)

LEASE = 4_815_162_342
MARKER = encode_marker(LEASE)
EVERYTHING = parse_policy(
    {
        "hidden_keys": ["system_prompt", "customer.id", "messages.meta", "a.b.c"],
        "redact": ["email", "phone", {"name": "order id", "pattern": r"ORD-\d{6}"}],
        "canary": True,
    }
)
ARTICLE = (
    "Dear team, the parcel arrived broken. Please write to jo.doe+returns@example.co.uk "
    "or call +1 415 555 0132 about order ORD-123456. We paid on 2021-05-06 from "
    "192.168.10.20 and the total was 12.000.000 units. Thanks for the quick help!"
)


def data() -> dict:
    return {
        "system_prompt": "You are a secret assistant.",
        "customer": {"id": 77, "name": "Jo Doe", "email": "jo@example.org"},
        "messages": [
            {"role": "user", "meta": {"ip": "1.2.3.4"}, "content": "Call me: (415) 555-0132."},
            {"role": "assistant", "content": "Sure"},
        ],
        "a": {"b": {"c": 1, "d": 2}},
        "text": ARTICLE,
        "score": 3,
        "flag": True,
        "nothing": None,
    }


def test_hidden_keys_top_level_and_dotted_paths_even_through_lists():
    shown = outside_view(data(), EVERYTHING, marker=None)
    assert "system_prompt" not in shown
    assert shown["customer"] == {"name": "Jo Doe", "email": "[email hidden]"}
    assert [m.get("meta") for m in shown["messages"]] == [None, None]
    assert shown["a"] == {"b": {"d": 2}}
    assert (shown["score"], shown["flag"], shown["nothing"]) == (3, True, None)
    # A top-level key that has a dot in its name is hidden too.
    assert outside_view(
        {"x.y": 1, "x": {"y": 2, "z": 3}}, parse_policy({"hidden_keys": ["x.y"]}), marker=None
    ) == {"x": {"z": 3}}


def test_redaction_leaves_visible_placeholders():
    shown = outside_view(data(), EVERYTHING, marker=None)
    assert shown["text"] == (
        "Dear team, the parcel arrived broken. Please write to [email hidden] "
        "or call [phone hidden] about order [order id hidden]. We paid on 2021-05-06 from "
        "192.168.10.20 and the total was 12.000.000 units. Thanks for the quick help!"
    )
    assert shown["messages"][0]["content"] == "Call me: [phone hidden]."


@pytest.mark.parametrize(
    "phone",
    [
        "+1 415 555 0132",
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "+44 20 7946 0958",
        "555-1234",
    ],
)
def test_phone_numbers_as_people_write_them(phone):
    policy = OutsidePolicy(redact=(RedactRule("phone"),))
    assert outside_view({"t": f"ring {phone} now"}, policy, marker=None) == {
        "t": "ring [phone hidden] now"
    }


@pytest.mark.parametrize(
    "kept",
    [
        "2021-05-06",
        "06.05.2021",
        "192.168.10.20",
        "12.000.000",
        "v3.11.7",
        "1200",
        "ORD-123456",
        "3.14159",
    ],
)
def test_numbers_that_are_not_phone_numbers_stay(kept):
    policy = OutsidePolicy(redact=(RedactRule("phone"),))
    assert outside_view({"t": f"see {kept} here"}, policy, marker=None) == {"t": f"see {kept} here"}


def test_nothing_changes_without_a_policy_and_the_input_is_never_modified():
    original = data()
    for policy in (OutsidePolicy(), parse_policy(None), parse_policy({})):
        assert outside_view(original, policy, marker=MARKER) == original
    outside_view(original, EVERYTHING, marker=MARKER)
    assert original == data()


def test_keep_length_keys_keep_offsets_and_get_no_marker():
    text = "Mail jo.doe@example.org or a@b.co today, please do it now and again."
    shown = outside_view(
        {"text": text, "other": text}, EVERYTHING, marker=MARKER, keep_length={"text"}
    )
    assert shown["text"] == "Mail [email hidden    ] or ██████ today, please do it now and again."
    assert shown["text"].index("today") == text.index("today")  # span offsets stay true
    assert find_markers(shown["other"]) == [LEASE] and find_markers(shown["text"]) == []


# -- the canary ------------------------------------------------------------------------------


def test_marker_round_trip_and_stray_characters_are_ignored():
    for lease in (1, 3, 4, 255, 256, 10**6, 2**63 - 1):
        assert find_markers(f"a{encode_marker(lease)}b") == [lease]
    damaged = MARKER[:3] + MARKER[4:]
    assert find_markers(damaged) == []
    assert find_markers("emoji 👨\u200d👩\u200d👧 and Persian می\u200cخواهم") == []
    assert find_markers(MARKER + "x" + encode_marker(7) + MARKER) == [LEASE, 7]
    with pytest.raises(ValueError):
        encode_marker(0)


def test_every_sentence_carries_the_marker_and_it_is_invisible():
    shown = outside_view({"text": ARTICLE}, EVERYTHING, marker=MARKER)["text"]
    assert shown.count(MARKER) == 4  # one per sentence
    assert all(unicodedata.category(c) == "Cf" for c in MARKER)
    assert strip_markers(shown) == outside_view({"text": ARTICLE}, EVERYTHING, marker=None)["text"]
    # Placed after a word, before a space or comma: no word, URL or number is split.
    assert "Dear" + MARKER + " team" in shown and "Please" + MARKER + " write" in shown
    short = outside_view({"t": "Too short to mark."}, EVERYTHING, marker=MARKER)
    assert short == {"t": "Too short to mark."}


def test_a_copied_sentence_from_the_middle_keeps_the_marker():
    shown = outside_view({"text": ARTICLE}, EVERYTHING, marker=MARKER)["text"]
    start = shown.index(". We") + 2
    sentence = shown[start : shown.index("units.", start) + len("units.")]
    assert find_markers(sentence) == [LEASE]


def test_marker_survives_whitespace_normalisation_nfkc_and_json():
    shown = outside_view({"text": ARTICLE}, EVERYTHING, marker=MARKER)["text"]
    assert find_markers(" ".join(f"  {shown}\n\n".split())) == [LEASE]
    assert find_markers(re.sub(r"\s+", " ", shown).strip()) == [LEASE]
    assert find_markers(unicodedata.normalize("NFKC", shown)) == [LEASE]
    assert find_markers(unicodedata.normalize("NFC", shown)) == [LEASE]
    assert find_markers(orjson.loads(orjson.dumps({"t": shown}))["t"]) == [LEASE]
    assert find_markers(json.dumps({"t": shown})) == []  # \u escapes in the JSON text…
    assert find_markers(json.loads(json.dumps({"t": shown}))["t"]) == [LEASE]  # …decoded


def test_documented_limitations_what_removes_the_marker():
    shown = outside_view({"text": ARTICLE}, EVERYTHING, marker=MARKER)["text"]
    # ASCII-only filtering (e.g. encode("ascii", "ignore"), many "clean text" steps).
    assert find_markers(shown.encode("ascii", "ignore").decode()) == []
    # Dropping format characters (Unicode category Cf), as some sanitizers do.
    assert find_markers("".join(c for c in shown if unicodedata.category(c) != "Cf")) == []
    # Retyping (or OCR of a screenshot, paraphrasing): only the visible characters remain.
    retyped = "".join(c for c in shown if c.isprintable())
    assert find_markers(retyped) == []
    # Part of a sentence without its first word.
    start = shown.index("paid on")
    assert find_markers(shown[start : shown.index("units.")]) == []
    # Text without spaces between words is not marked at all.
    cjk = "今天天气很好。我们去公园散步吧。然后一起吃晚饭，好不好？明天见。再见再见再见再见。"
    assert outside_view({"t": cjk}, EVERYTHING, marker=MARKER) == {"t": cjk}


def test_canary_off_means_no_marker():
    policy = parse_policy({"redact": ["email"]})
    assert find_markers(str(outside_view({"t": ARTICLE}, policy, marker=MARKER))) == []


def typical_task() -> dict:
    return {
        "text": ARTICLE * 7,
        "title": "A customer's complaint about delivery",
        "meta": {"lang": "en", "n": 3},
        "system_prompt": "x" * 300,
    }


def test_a_typical_task_reuses_the_compiled_policy():
    """Applying a policy compiles nothing: the patterns are compiled once per policy. (The
    cost per call, ~0.1 ms for a 2 kB task, is measured by bench/bench_outside_view.py, not
    here: a timed assertion fails on a loaded machine.)"""
    task = typical_task()
    assert 1900 < len(orjson.dumps(task)) < 2300  # a typical 2 kB task
    outside_view(task, EVERYTHING, marker=MARKER)  # compiled and cached
    misses = compile_policy.cache_info().misses
    for _ in range(20):
        view = outside_view(task, EVERYTHING, marker=MARKER)
    assert compile_policy.cache_info().misses == misses
    assert "system_prompt" not in view and "jo.doe" not in view["text"]


# -- validation --------------------------------------------------------------------------------


def problems(raw) -> dict[str, str]:
    with pytest.raises(InvalidInput) as err:
        parse_policy(raw)
    return {p.field: p.problem for p in err.value.details}


def test_validation_names_every_field():
    found = problems(
        {
            "hidden_keys": ["ok", "", "x" * 201, "a..b", 3],
            "redact": [
                "email",
                "ssn",
                {"name": "id", "pattern": "a+"},
                {"name": "[x]", "pattern": "x"},
                {"pattern": "x"},
            ],
            "canary": "yes",
            "extra": 1,
        }
    )
    assert set(found) == {
        "hidden_keys[1]",
        "hidden_keys[2]",
        "hidden_keys[3]",
        "hidden_keys[4]",
        "redact[1]",
        "redact[2].pattern",
        "redact[3].name",
        "redact[4]",
        "canary",
        "extra",
    }
    assert "at most 200" in found["hidden_keys[2]"]
    assert "unknown rule 'ssn'" in found["redact[1]"]
    assert problems({"hidden_keys": ["k"] * 101}) == {"hidden_keys": "101 entries; at most 100"}
    assert problems({"redact": "email"}) == {"redact": "expected a list"}
    assert "outside_policy" in problems(["email"])


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"ORD-\d+", "no upper count"),
        (r"(?=.*x)a", "no upper count"),
        (r"(a{1,3}){1,5}", "inside a repeated group"),
        (r"(\w{2,3}\.){1,4}", "inside a repeated group"),
        (r"(a)\1", "backreferences"),
        (r"x?", "empty text"),
        ("(", "not a valid regular expression"),
        ("a" * 501, "at most 500"),
        (r"\d{1,300}", "at most 200"),
        (r"\w{0,99}\w{0,99}x", "too slow"),
    ],
)
def test_risky_patterns_are_refused(pattern, why):
    assert why in (pattern_problem(pattern) or "")


@pytest.mark.parametrize(
    "pattern",
    [r"ORD-\d{6}", r"\b[A-Z]{2}\d{6}\b", r"(?:\d{3}-){2}\d{4}", r"[\w.]{1,64}@corp\.example"],
)
def test_ordinary_patterns_pass(pattern):
    assert pattern_problem(pattern) is None


def test_the_stored_form_round_trips():
    assert parse_policy(EVERYTHING.as_json()) == EVERYTHING
    assert EVERYTHING.as_json()["redact"][2] == {"name": "order id", "pattern": r"ORD-\d{6}"}


def test_the_documented_example_is_valid():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "vendors.md").read_text()
    block = re.search(r"```json outside-policy\n(.*?)```", doc, re.S)
    assert block is not None
    assert parse_policy(json.loads(block[1])) == OutsidePolicy(
        ("system_prompt", "customer.id"), EVERYTHING.redact, True
    )
