"""Conversations in task data: validation sentences, rendering as a chat, and every kind
that reads them (pairwise prompt, rating context, spans in a message)."""

from __future__ import annotations

import pytest

from labelhouse.kinds.conversation import (
    MAX_MESSAGES,
    parse_conversation,
    render_html,
    render_value,
    text_of,
)
from labelhouse.kinds.registry import parse_schema

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Reverse a string in Python?"},
    {"role": "assistant", "content": [{"type": "text", "text": "Use `s[::-1]`."}]},
    {"role": "user", "content": "And <script>alert(1)</script>?"},
]


def test_parse_reads_strings_and_text_parts():
    messages = parse_conversation(CHAT)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2].text == "Use `s[::-1]`."
    parts = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]
    assert parse_conversation(parts)[0].text == "a\n\nb"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            [{"role": "bot", "content": "x"}],
            "'chat' message [0] has role 'bot'; use one of: system, user",
        ),
        ([{"role": "user"}], "'chat' message [0] has no 'content'"),
        ([{"role": "user", "content": "a"}, "b"], "'chat' message [1] must be an object"),
        (
            [{"role": "user", "content": 3}],
            "'chat' message [0] 'content' must be a string or a list",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            "'chat' message [0] content part [0] has type 'image_url'; only 'text' parts",
        ),
        (
            [{"role": "user", "content": [{"type": "text"}]}],
            "content part [0] needs a 'text' string",
        ),
        ([], "'chat' is an empty conversation"),
        ([{"role": "user", "content": "x"}] * (MAX_MESSAGES + 1), f"at most {MAX_MESSAGES}"),
    ],
)
def test_parse_names_the_message_and_the_fix(raw, message):
    with pytest.raises(ValueError, match=None) as exc:
        parse_conversation(raw, "chat")
    assert message in str(exc.value)


def test_tool_calling_turn_without_content_is_accepted():
    raw = [{"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]}]
    assert parse_conversation(raw)[0].text == ""


def test_render_escapes_and_sanitizes_and_folds_the_system_prompt():
    html = render_html(parse_conversation(CHAT))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<details class="lh-msg lh-msg-system" data-role="system" data-index="0">' in html
    assert '<section class="lh-msg lh-msg-user" data-role="user" data-index="3">' in html
    assert "<code>s[::-1]</code>" in html
    assert "System prompt" not in render_html(parse_conversation(CHAT), "hide")
    assert '<section class="lh-msg lh-msg-system"' in render_html(parse_conversation(CHAT), "show")


def test_long_messages_fold_except_the_last():
    long = "word " * 1000
    chat = [{"role": "user", "content": long}, {"role": "assistant", "content": long}]
    html = render_html(parse_conversation(chat))
    assert '<details class="lh-msg lh-msg-user"' in html
    assert '<section class="lh-msg lh-msg-assistant"' in html


def test_code_blocks_are_highlighted_with_classes_only():
    chat = [{"role": "assistant", "content": "```python\ndef f():\n    return 1\n```"}]
    html = render_html(parse_conversation(chat))
    assert '<span class="k">def</span>' in html
    assert "style=" not in html


def test_render_value_ignores_non_conversations():
    assert render_value("text", "k") is None
    assert render_value([{"role": "bot", "content": "x"}], "k") is None


def test_text_of_picks_a_message_counting_from_the_end():
    assert text_of(CHAT, -1, "chat").startswith("And ")
    assert text_of(CHAT, 2, "chat") == "Use `s[::-1]`."
    with pytest.raises(ValueError, match=r"has 4 messages, so it has no message \[9\]"):
        text_of(CHAT, 9, "chat")


def test_pairwise_prompt_may_be_a_conversation_with_assistant_candidates():
    schema = parse_schema(
        [{"name": "pref", "kind": "pairwise", "prompt": "chat", "responses": "candidates"}]
    )
    data = {
        "chat": CHAT,
        "candidates": [
            {"role": "assistant", "content": "Same way."},
            {"role": "assistant", "content": [{"type": "text", "text": "Escape it."}]},
        ],
    }
    assert schema.check_task_data(data) == []
    shown = schema.display(data)["pref"]
    assert shown["conversation"].startswith('<div class="lh-chat">')
    assert shown["responses"] == ["<p>Same way.</p>\n", "<p>Escape it.</p>\n"]
    bad = {**data, "chat": [*CHAT, {"role": "robot", "content": "x"}]}
    assert schema.check_task_data(bad) == [
        "'chat' message [4] has role 'robot'; use one of: system, user, assistant, tool"
    ]


def test_rating_of_a_whole_conversation_shows_it_as_a_chat():
    schema = parse_schema(
        [{"name": "q", "kind": "rating", "reads": ["chat"], "system_prompt": "hide"}]
    )
    assert schema.check_task_data({"chat": CHAT}) == []
    html = schema.display({"chat": CHAT})["q"]["data"]["chat"]
    assert "lh-msg-system" not in html and "lh-msg-assistant" in html
    assert schema.check_task_data({"chat": [{"role": "user", "content": 1}]}) == [
        "'chat' message [0] 'content' must be a string or a list of parts like "
        '[{"type": "text", "text": "…"}], got 1'
    ]
    # a stored schema keeps its old shape: the new setting is absent by default
    plain = parse_schema([{"name": "q", "kind": "rating", "reads": ["chat"]}])
    assert "system_prompt" not in plain.model_dump(mode="json", exclude_none=True)["fields"][0]


def test_spans_inside_one_message_use_offsets_relative_to_it():
    schema = parse_schema(
        [
            {
                "name": "s",
                "kind": "spans",
                "source": "chat",
                "message": 2,
                "labels": [{"value": "CODE"}],
            }
        ]
    )
    assert schema.check_task_data({"chat": CHAT}) == []
    value = schema.validate_annotation(
        {"s": [{"start": 5, "end": 12, "label": "CODE"}]}, {"chat": CHAT}
    )
    assert value["s"] == [{"start": 5, "end": 12, "label": "CODE", "text": "s[::-1]"}]
    assert schema.check_task_data({"chat": CHAT[:2]}) == [
        "'chat' has 2 messages, so it has no message [2] (indices count from 0; -1 is the last "
        "message) (field 's' marks spans in a message of it)"
    ]
    field = schema.field("s")
    merged, _ = field.merge([value["s"], value["s"]], data={"chat": CHAT})
    assert merged[0]["text"] == "s[::-1]"
