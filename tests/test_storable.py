"""``labelhouse.storable``: finding NUL characters, which PostgreSQL cannot store."""

from __future__ import annotations

import orjson
import pytest

from labelhouse.storable import encoded_json_has_nul, find_nul


def test_find_nul_names_the_path():
    assert find_nul({"a": {"b": ["x", "y\x00"]}}) == "a.b[1]"
    assert find_nul({"k\x00": 1}) == "k\x00"
    assert find_nul(["ok", {"t": "\x00"}], "body") == "body[1].t"
    assert find_nul("\x00") == ""
    assert find_nul({"a": [1, 2.5, None, True, "fine"]}) is None


@pytest.mark.parametrize(
    ("value", "has_nul"),
    [
        ({"text": "a\x00b"}, True),
        ({"text\x00": "a"}, True),
        ({"text": "the six characters \\u0000"}, False),  # an escaped backslash
        ({"text": "\\\x00"}, True),  # a backslash, then a NUL
        ({"text": "plain"}, False),
    ],
)
def test_encoded_json_check_agrees_with_the_decoded_one(value, has_nul):
    encoded = orjson.dumps(value)
    assert encoded_json_has_nul(encoded) is has_nul
    assert (find_nul(value) is not None) is has_nul
