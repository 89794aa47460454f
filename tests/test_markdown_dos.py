"""Markdown rendering cannot be used to tie up the server: bounded time for any input (each
adversarial family at 1 MB, timed in a fresh process), still sanitized, ordinary Markdown
unchanged; the preview endpoint has a size limit and a per-user rate limit; and a task's
Markdown is rendered after the write transaction has committed, never inside it."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from labelhouse import markdown
from labelhouse.annotations.models import Annotation
from labelhouse.tasks.models import Assignment
from labelhouse.web.api.pages_support import (
    PREVIEW_BURST,
    PREVIEW_MAX_CHARS,
    PREVIEW_RATE,
    preview_limiter,
)
from tests.factories import add_member, add_tasks, login, make_project
from tests.helpers_data import detached, error_of

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
CPU_BOUND = 2.0  # seconds of CPU per 1 MB render; ~0.2–0.4 s measured (bench_markdown.py)
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>\n\n"


def rep(unit: str, n: int = MB) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def backtick_runs(n: int = MB) -> str:
    out, size, i = [], 0, 1
    while size < n:
        out.append("e" + "`" * (i % 3000))
        size += len(out[-1])
        i += 1
    return "".join(out)


FAMILIES = {
    "link openers": lambda: rep("[a "),
    "link openers closed at the end": lambda: rep("[a ") + "](",
    "images": lambda: rep("![]("),
    "nested brackets": lambda: "[" * (MB // 2) + "a" + "]" * (MB // 2) + "()",
    "link destinations": lambda: rep("http://x![{%]("),
    "nested emphasis": lambda: "*a **a " * (MB // 14) + "b" + " a** a*" * (MB // 14),
    "mismatched emphasis": lambda: rep("*a_ "),
    "backtick runs": backtick_runs,
    "nested blockquotes": lambda: rep("> " * 30 + "a\n"),
    "one line of blockquote markers": lambda: rep("> ") + "a",
    "blockquotes with lazy lines": lambda: rep("[a\n>+\n"),
    "fences in blockquotes": lambda: rep("> ```\na\n"),
    "nested list items": lambda: rep("- - - a\n"),
    "table rows": lambda: "|a|b|\n|-|-|\n" + rep("|x|y|\n"),
    "html blocks and comments": lambda: rep("<div>\n<!--"),
    "entities": lambda: rep("a & "),
    "text stops": lambda: rep(":"),
}

CHILD = """
import json, sys, time
from labelhouse import markdown
text = sys.stdin.read()
start = time.process_time()
html = markdown.render(text)
cpu = time.process_time() - start
print(json.dumps({"cpu": cpu, "html": html, "markdown": markdown.markdown_length(text)}))
"""
NOTE = "<hr>\n<p><em>This text is too long to format in full"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def assert_sanitized(html: str) -> None:
    html, _, plain = html.partition(NOTE)  # the plain rest: only escaped text in paragraphs
    assert set(re.findall(r"<[^>]*>", plain)) <= {"<p>", "</p>", "<br>", "</em>"}
    assert "<script" not in plain
    parsed = Tags()
    parsed.feed(html)
    assert parsed.tags <= markdown.ALLOWED_TAGS, parsed.tags - markdown.ALLOWED_TAGS
    assert all(h.split(":")[0] in ("http", "https", "mailto") for h in parsed.hrefs if ":" in h)
    assert "<script" not in html


@pytest.mark.parametrize("family", FAMILIES)
def test_a_megabyte_of_adversarial_markdown_renders_quickly_and_safely(family):
    text = HOSTILE + FAMILIES[family]() + "\n\n" + HOSTILE
    run = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=text,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    out = json.loads(run.stdout)
    assert out["cpu"] < CPU_BOUND, f"{family}: {out['cpu']:.2f} s of CPU"
    if family != "one line of blockquote markers":  # (all of it plain: see the next test)
        assert out["markdown"] > 1_000, "the parser itself must be exercised"
    assert_sanitized(out["html"])
    # the hostile text is shown, escaped, at both ends (Markdown part and plain part)
    assert out["html"].count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2


def stock(text: str) -> str:
    """The renderer as it was: stock link and image rules, no budget."""
    return markdown.clean(markdown.new_parser(label_guard=False).render(text))


DOCUMENT = """# Title

Some *emphasis*, **strong**, ~~gone~~, `code`, a [link](https://example.com "T"), a
[reference][ref], an ![image](a.png), <https://auto.link> and \\[escaped\\] & more.

> quoted
> - item

1. one
2. two
   - nested

| a | b |
|:--|--:|
| 1 | [x](javascript:alert(1)) |

```python
print("<b>")
```

<script>alert(1)</script>

[ref]: http://ref.example
"""
# What the renderer made of DOCUMENT before these bounds (markdown-it-py 4.3, nh3 0.3).
DOCUMENT_HTML = (
    "<h1>Title</h1>\n<p>Some <em>emphasis</em>, <strong>strong</strong>, gone, <code>code"
    '</code>, a <a href="https://example.com" title="T" rel="noopener noreferrer nofollow">'
    'link</a>, a\n<a href="http://ref.example" rel="noopener noreferrer nofollow">reference'
    '</a>, an , <a href="https://auto.link" rel="noopener noreferrer nofollow">'
    "https://auto.link</a> and [escaped] &amp; more.</p>\n<blockquote>\n<p>quoted</p>\n<ul>"
    "\n<li>item</li>\n</ul>\n</blockquote>\n<ol>\n<li>one</li>\n<li>two\n<ul>\n<li>nested"
    "</li>\n</ul>\n</li>\n</ol>\n<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n"
    "</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>[x](javascript:alert(1))</td>\n</tr>\n"
    '</tbody>\n</table>\n<pre><code class="language-python">print("&lt;b&gt;")\n</code>'
    "</pre>\n<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
)


INSTRUCTIONS_MAX = 100_000


def test_ordinary_markdown_renders_exactly_as_before():
    assert markdown.render(DOCUMENT) == DOCUMENT_HTML
    docs = [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    # ...and a rich document as long as project instructions may be (100,000 characters,
    # web/api/schemas.py): every page of docs/ one after the other, cut at a paragraph.
    joined = "\n\n".join(docs)
    longest = joined[: joined.rindex("\n\n", 0, INSTRUCTIONS_MAX)]
    assert len(longest) > 90_000
    docs += [(ROOT / "README.md").read_text(), longest]
    for doc in docs:
        assert markdown.markdown_length(doc) == len(doc)  # rendered in full
        assert markdown.render(doc) == stock(doc)


def test_the_label_guard_changes_no_output():
    """The link and image rules skip only openers at which they would fail anyway."""
    guarded, plain = markdown.new_parser(), markdown.new_parser(label_guard=False)
    pieces = ["[", "]", "(", ")", "![", "](", "a", " ", "\n", "`", "*", "<", ">", "\\", ":"]
    pieces += ["http://x", "[x]: /u\n", "\n[x]: /u 't'\n", '"t"', "&#93;", "\n\n"]
    rnd = random.Random(7)
    for _ in range(3000):
        doc = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 24)))
        assert guarded.render(doc) == plain.render(doc), repr(doc)


def test_long_text_shows_its_rest_as_escaped_plain_text():
    text = "Intro with **bold**.\n\n" + "A paragraph of prose, plain.\n" * 20_000 + HOSTILE
    n = markdown.markdown_length(text)
    assert 0 < n < len(text) and text[n - 1] == "\n"  # cut at a line end
    html = markdown.render(text)
    assert html.startswith("<p>Intro with <strong>bold</strong>.</p>")
    assert f"its last {len(text) - n:,} characters are shown as plain text" in html
    assert html.endswith(
        "plain.<br>\n&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(2)) "
        "&lt;img src=x onerror=alert(3)&gt;</p>\n"
    )
    assert_sanitized(html)
    # ~100,000 characters of prose (and ~50,000 of markup-dense text) still render in full
    prose = "Some prose, as a person writes it, with a line break every eighty or so.\n" * 1400
    assert markdown.markdown_length(prose) == len(prose) > 100_000
    assert markdown.render_cost(text) > markdown.COST_BUDGET


def test_the_cache_is_bounded_by_bytes():
    cache = markdown._Cache(max_bytes=10_000)
    for i in range(100):
        cache.put(i.to_bytes(4, "big"), "x" * 900)
    assert cache.size <= 10_000 and len(cache.entries) == 10
    assert cache.get((99).to_bytes(4, "big")) is not None
    assert cache.get((0).to_bytes(4, "big")) is None
    cache.put(b"huge", "x" * 5_000)  # over an eighth of the budget: not kept
    assert cache.get(b"huge") is None


# -- the preview endpoint ----------------------------------------------------------------------


def test_preview_refuses_text_over_the_limit(app, annotator):
    c = login(app, annotator)
    at_limit = {"text": "a" * PREVIEW_MAX_CHARS}
    assert c.post("/api/markdown/preview", json=at_limit).status_code == 200
    r = c.post("/api/markdown/preview", json={"text": "a" * (PREVIEW_MAX_CHARS + 1)})
    assert r.status_code == 413, r.text
    err = error_of(r)
    assert err["code"] == "too_large" and "100,001 characters" in err["message"]
    assert err["details"] == [{"field": "text", "problem": "at most 100,000 characters"}]


def test_preview_is_rate_limited_per_user_by_render_work(app, db, owner, annotator):
    now = [1000.0]
    preview_limiter(app).clock = lambda: now[0]
    c = login(app, annotator)
    heavy = {"text": rep("[a ](", PREVIEW_MAX_CHARS)}  # a full budget's worth each time
    cost = markdown.render_cost(heavy["text"])
    allowed = int(PREVIEW_BURST // cost)
    assert cost > markdown.COST_BUDGET and allowed >= 5
    codes = [c.post("/api/markdown/preview", json=heavy).status_code for _ in range(allowed + 1)]
    assert codes == [200] * allowed + [429], codes
    r = c.post("/api/markdown/preview", json=heavy)
    wait = int(r.headers["retry-after"])
    assert r.status_code == 429 and error_of(r)["code"] == "rate_limited"
    assert 1 <= wait <= cost / PREVIEW_RATE + 1
    other = login(app, add_member(db, owner))
    assert other.post("/api/markdown/preview", json=heavy).status_code == 200  # per user
    now[0] += wait
    assert c.post("/api/markdown/preview", json=heavy).status_code == 200


def test_typing_in_the_instructions_editor_is_never_limited(app, annotator):
    now = [1000.0]
    preview_limiter(app).clock = lambda: now[0]
    c = login(app, annotator)
    text = DOCUMENT * 12  # ~4,300 characters of markup-dense Markdown, ~55,000 units
    for i in range(120):  # a preview every 0.25 s (the editor's debounce), for 30 s
        now[0] += 0.25
        r = c.post("/api/markdown/preview", json={"text": text + f" {i}"})
        assert r.status_code == 200, (i, r.text)


# -- Markdown is rendered after the commit -----------------------------------------------------

PAIRWISE = {"fields": [{"name": "preference", "kind": "pairwise"}]}


@pytest.fixture
def pair_project(db, owner):
    pid = make_project(db, owner, schema=PAIRWISE)
    rows = [{"prompt": f"**Q{i}**", "responses": ["a", "b"]} for i in range(3)]
    add_tasks(db, owner, pid, rows)
    return pid


def test_next_and_submit_render_markdown_after_their_transaction_commits(
    app, db, annotator, pair_project, monkeypatch
):
    """While the Markdown renders, another connection already sees the lease (and the
    submitted answer): the write transaction, and SQLite's write lock, are over."""
    user = annotator.actor.user_id
    seen: list[tuple[int, int]] = []
    real_render = markdown.render

    def watching_render(text: str | None, *, highlight: bool = False) -> str:
        if text and text.startswith("**Q"):
            leased = detached(db, select(Assignment.task_id).where(Assignment.user_id == user))
            answered = detached(db, select(Annotation.task_id).where(Annotation.user_id == user))
            seen.append((len(leased), len(answered)))
        return real_render(text, highlight=highlight)

    monkeypatch.setattr(markdown, "render", watching_render)
    c = login(app, annotator)
    task = c.post(f"/api/projects/{pair_project}/next?render=1").json()["task"]
    assert task["rendered"]["preference"]["prompt"] == "<p><strong>Q0</strong></p>\n"
    assert seen == [(1, 0)]
    body = c.post(
        f"/api/tasks/{task['id']}/annotations?next=1&render=1",
        json={"value": {"preference": {"choice": "A"}}},
    ).json()
    assert body["next"]["task"]["rendered"]["preference"]["prompt"].startswith("<p><strong>Q")
    assert seen == [(1, 0), (2, 1)]  # the answer and the second lease were committed
    got = c.get(f"/api/tasks/{task['id']}?render=1").json()
    assert got["rendered"] == task["rendered"]
