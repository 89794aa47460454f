"""The ``display`` hook: what each kind asks the browser to show as server-rendered,
sanitized HTML (and that untrusted Markdown never comes out as live HTML)."""

from __future__ import annotations

import pytest

from labelhouse.kinds import parse_schema

HOSTILE = "<img src=x onerror=alert(1)> <script>alert(2)</script> [x](javascript:alert(3))"


def field(config: dict):
    return parse_schema({"fields": [config]}).fields[0]


@pytest.mark.parametrize(
    "config",
    [
        {"name": "c", "kind": "choice", "reads": ["text"], "options": [{"value": "a"}]},
        {"name": "m", "kind": "choices", "reads": ["text"], "options": [{"value": "a"}]},
        {"name": "s", "kind": "spans", "labels": [{"value": "PER"}]},
        {"name": "t", "kind": "text", "reads": ["text"]},
        {"name": "r", "kind": "rating", "reads": ["text"]},
        {"name": "b", "kind": "boxes", "labels": [{"value": "cat"}]},
    ],
)
def test_kinds_shown_as_plain_text_render_nothing(config):
    assert field(config).display({"text": "**bold**", "image": "a.png"}) == {}


def test_pairwise_renders_prompt_and_responses_in_task_order():
    f = field({"name": "p", "kind": "pairwise"})
    shown = f.display(
        {
            "prompt": "Reverse `s`",
            "responses": ["```python\ns[::-1]\n```", {"text": "Use **reversed**", "model": "m2"}],
        }
    )
    assert shown["prompt"] == "<p>Reverse <code>s</code></p>\n"
    # code is highlighted on the server: Pygments token classes, no inline styles
    assert shown["responses"][0].startswith(
        '<pre><code class="language-python"><span class="n">s</span><span class="p">[::</span>'
    )
    assert "style=" not in shown["responses"][0]
    assert shown["responses"][1] == "<p>Use <strong>reversed</strong></p>\n"


def test_ranking_reads_its_configured_keys_and_content_objects():
    f = field({"name": "r", "kind": "ranking", "prompt": "q", "responses": "answers"})
    shown = f.display({"q": "Which?", "answers": ["one", {"content": "*two*"}, "three"]})
    assert shown == {
        "prompt": "<p>Which?</p>\n",
        "responses": ["<p>one</p>\n", "<p><em>two</em></p>\n", "<p>three</p>\n"],
    }


def test_hostile_markdown_is_escaped_not_rendered():
    f = field({"name": "p", "kind": "pairwise"})
    shown = f.display({"prompt": HOSTILE, "responses": [HOSTILE, "<b onmouseover=x>hi</b>"]})
    escaped = (
        "<p>&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt; "
        "[x](javascript:alert(3))</p>\n"
    )
    assert shown == {
        "prompt": escaped,
        "responses": [escaped, "<p>&lt;b onmouseover=x&gt;hi&lt;/b&gt;</p>\n"],
    }


def test_no_prompt_key_and_broken_responses_degrade_gracefully():
    f = field({"name": "p", "kind": "pairwise", "prompt": None})
    assert f.display({"responses": ["a", "b"]}) == {"responses": ["<p>a</p>\n", "<p>b</p>\n"]}
    # a malformed task: nothing to render for responses (submitting says what is wrong)
    assert field({"name": "p", "kind": "pairwise"}).display(
        {"prompt": "q", "responses": "oops"}
    ) == {"prompt": "<p>q</p>\n"}


def test_text_renders_what_it_reads_only_with_markdown():
    plain = field({"name": "t", "kind": "text", "reads": ["answer"]})
    assert plain.display({"answer": "**x**"}) == {}
    md = field({"name": "t", "kind": "text", "reads": ["answer", "n", "missing"], "markdown": True})
    assert md.display({"answer": "**x** <i>y</i>", "n": 3}) == {
        "data": {"answer": "<p><strong>x</strong> &lt;i&gt;y&lt;/i&gt;</p>\n"}
    }
    assert md.display({"n": 3}) == {}
