"""Server-side code highlighting: Pygments classes only (the CSP forbids inline styles),
unknown languages and text left plain, and the per-render budget that bounds its cost."""

from __future__ import annotations

from labelhouse import markdown


def fence(lang: str, code: str) -> str:
    return f"```{lang}\n{code}\n```\n"


def test_known_language_gets_token_classes_and_no_style():
    html = markdown.render(fence("python", "def f():\n    return '<b>'"), highlight=True)
    assert '<span class="k">def</span>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert "style=" not in html
    # without highlight (instructions, prompts): as before
    plain = markdown.render(fence("python", "def f(): pass"))
    assert plain == '<pre><code class="language-python">def f(): pass\n</code></pre>\n'


def test_unknown_language_and_foreign_classes_stay_plain():
    html = markdown.render(fence("no-such-language", "x = 1"), highlight=True)
    assert "<span" not in html
    # only Pygments' token classes pass nh3 on a span
    assert markdown.clean('<span class="k evil">x</span>') == '<span class="k">x</span>'


def test_the_budget_caps_highlighted_code_per_render():
    block = "x = 1\n" * (markdown.HIGHLIGHT_BUDGET // 6 // 2 + 1)  # just over half the budget
    html = markdown.render(fence("python", block) + "\n" + fence("python", block), highlight=True)
    first, second = html.split("</pre>")[:2]
    assert '<span class="n">x</span>' in first
    assert "<span" not in second
    huge = "x = 1\n" * (markdown.HIGHLIGHT_BLOCK // 6 + 1)
    assert "<span" not in markdown.render(fence("python", huge), highlight=True)
