"""Helpers for the accessibility tests: axe-core in the page, the Tab order, sideways
scrolling, and one annotate project per field kind.

axe-core is vendored under tests/browser/vendor/ (see its README) and injected with
``add_init_script``, which goes through the DevTools protocol: the app's strict CSP stays on
for its own scripts and does not block the checker.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SERIOUS = ("serious", "critical")


def with_axe(context: BrowserContext) -> BrowserContext:
    """Make axe-core available as ``window.axe`` on every page the context opens."""
    context.add_init_script(path=str(AXE))
    return context


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (every rule axe runs by default, which
    includes WCAG 2.x A/AA and colour contrast), reduced to what a failure message needs."""
    return page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
            }));
        }"""
    )


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']}")
        for n in v["nodes"][:6]:
            summary = (n["summary"] or "").replace("\n", " ")[:220]
            lines.append(f"    {n['target']}  —  {summary}")
    return "\n".join(lines)


def sideways_overflow(page: Page) -> dict[str, Any] | None:
    """None when the page does not scroll sideways; else the widths and the elements whose
    right edge is past the window (the culprits), for the failure message."""
    return page.evaluate(
        r"""() => {
            const doc = document.scrollingElement, w = window.innerWidth;
            if (doc.scrollWidth <= w) return null;
            const clipped = (el) => {
                for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
                    if (getComputedStyle(a).overflowX !== "visible" && a.getBoundingClientRect().right <= w + 0.5) return true;
                }
                return false;
            };
            const past = [];
            for (const el of document.body.querySelectorAll("*")) {
                const r = el.getBoundingClientRect();
                if (r.width && r.right > w + 0.5 && !clipped(el)) {
                    const id = el.id ? "#" + el.id : "";
                    const cls = typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "";
                    past.push(`${el.tagName.toLowerCase()}${id}${cls} (right ${Math.round(r.right)})`);
                }
            }
            for (const el of document.body.querySelectorAll("*")) {  // text wider than its box
                if (getComputedStyle(el).overflowX === "visible" && el.scrollWidth > el.clientWidth + 1 && el.clientWidth && !clipped(el)) {
                    past.push(`content of ${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${String(el.className).trim().split(/\s+/).join(".")} (${el.scrollWidth} in ${el.clientWidth})`);
                }
            }
            return {scrollWidth: doc.scrollWidth, innerWidth: w, past: past.slice(0, 12)};
        }"""
    )


# A description of the focused element that is the same each time the same element is
# focused (a counter stored on the element itself), and readable in failure messages.
_FOCUSED = """() => {
    const el = document.activeElement;
    if (!el || el === document.body || el === document.documentElement) return null;
    if (!el.dataset.tabId) el.dataset.tabId = String((window.__tabIds = (window.__tabIds || 0) + 1));
    const name = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim().slice(0, 30);
    return `${el.dataset.tabId}:${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}[${name}]`;
}"""

# Every control a keyboard user must be able to reach: visible, enabled, not taken out of
# the Tab order; a group of radio buttons is one stop (the browser moves within it by
# arrows), and so is an element scrolled inside with tabindex=0.
_TABBABLE = """() => {
    const sel = "a[href], button, input, select, textarea, summary, [tabindex]";
    const seenRadio = new Set(), out = [];
    for (const el of document.querySelectorAll(sel)) {
        if (el.disabled || el.closest("[hidden], [inert], dialog:not([open])")) continue;
        if (el.tabIndex < 0 || (el.type === "hidden")) continue;
        const style = getComputedStyle(el);
        if (style.visibility === "hidden" || style.display === "none") continue;
        const r = el.getBoundingClientRect();
        if (!r.width && !r.height && !el.getClientRects().length) continue;
        if (el.type === "radio") {
            const key = (el.form ? "f" : "") + el.name;
            if (el.name && seenRadio.has(key)) continue;
            seenRadio.add(key);
        }
        out.push(el);
    }
    return out;
}"""


def focused(page: Page) -> str | None:
    """The focused element, the same string each time the same element has the focus
    (None: the page body or nothing)."""
    return page.evaluate(_FOCUSED)


def tab_cycle(page: Page, limit: int = 200) -> list[str]:
    """Press Tab from where the focus is until it comes back there; the focused elements in
    order (the start last). Fails if it never comes back within ``limit`` presses."""
    start = focused(page)
    assert start is not None, "nothing has the focus to start from"
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now is None:  # past the end of the page, in the browser's own UI
            continue
        seen.append(now)
        if now == start:
            return seen
    raise AssertionError(f"Tab never came back to {start} in {limit} presses: {seen[:60]}")


def tabbable(page: Page) -> list[str]:
    """The description of every control that Tab should reach (see _TABBABLE)."""
    return page.evaluate(
        f"""() => ({_TABBABLE})().map((el) => {{
            if (!el.dataset.tabId) el.dataset.tabId = String((window.__tabIds = (window.__tabIds || 0) + 1));
            const name = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim().slice(0, 30);
            return `${{el.dataset.tabId}}:${{el.tagName.toLowerCase()}}${{el.id ? "#" + el.id : ""}}[${{name}}]`;
        }})"""
    )


def png(width: int = 200, height: int = 100) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (240, 240, 235))
    ImageDraw.Draw(image).ellipse((20, 10, 80, 60), fill=(224, 122, 95))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# One field of each kind, reading one task row that has everything they need.
KIND_FIELDS: dict[str, dict[str, Any]] = {
    "choice": {
        "name": "sentiment",
        "kind": "choice",
        "reads": ["text"],
        "options": [
            {"value": "pos", "label": "Positive", "description": "Happy with it"},
            {"value": "neg", "label": "Negative"},
            {"value": "neu", "label": "Neutral", "hotkey": "n"},
        ],
    },
    "choices": {
        "name": "topics",
        "kind": "choices",
        "reads": ["text"],
        "options": [{"value": "shipping"}, {"value": "support"}, {"value": "price"}],
    },
    "rating": {
        "name": "quality",
        "kind": "rating",
        "reads": ["text"],
        "min": 1,
        "max": 5,
        "rubric": {"1": "Wrong", "3": "Fine", "5": "Excellent"},
    },
    "text": {"name": "note", "kind": "text", "reads": ["text"], "max_length": 200},
    "spans": {
        "name": "entities",
        "kind": "spans",
        "source": "text",
        "labels": [
            {"value": "PER", "label": "Person", "hotkey": "p", "color": "#e07a5f"},
            {"value": "LOC", "label": "Location", "hotkey": "l", "color": "#81b29a"},
        ],
    },
    "pairwise": {
        "name": "preference",
        "kind": "pairwise",
        "responses": "pair",
        "strengths": ["slightly", "much"],
    },
    "ranking": {"name": "order", "kind": "ranking", "allow_ties": True},
    "boxes": {
        "name": "objects",
        "kind": "boxes",
        "labels": [
            {"value": "cat", "hotkey": "c", "color": "#e07a5f"},
            {"value": "dog", "hotkey": "d", "color": "#3d85c6"},
        ],
    },
}

LONG_CODE = "print('" + "a_rather_long_identifier_" * 8 + "')"
CODE_ANSWER = f"Join the reversed characters:\n\n```python\n''.join(reversed(s))\n{LONG_CODE}\n```"


def kind_row(external_id: str) -> dict[str, Any]:
    """A task row every field of KIND_FIELDS can work on (a long code line included, which
    must scroll inside its block and never widen the page)."""
    return {
        "external_id": external_id,
        "data": {
            "text": "Ada Lovelace wrote to Charles Babbage in London about the engine.",
            "image": "a11y.png",
            "prompt": "How do I reverse a string in Python?",
            "responses": [
                "Use slicing: `s[::-1]`.",
                CODE_ANSWER,
                "Loop from the end and append each character.",
            ],
            "pair": ["Use slicing: `s[::-1]`.", CODE_ANSWER],
        },
    }


def kind_schema(*kinds: str) -> dict[str, Any]:
    return {"fields": [KIND_FIELDS[kind] for kind in kinds]}
