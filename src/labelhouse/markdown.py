"""Untrusted Markdown → safe HTML: markdown-it-py renders (raw HTML disabled), nh3 cleans.

Used for project instructions, task prompts and LLM responses. The browser only ever inserts
HTML that came out of :func:`render`.

**Bounded work.** Tasks may hold a megabyte and any member may ask for a preview, so one
render must stay cheap whatever the input. markdown-it-py is pure Python: ordinary Markdown
costs ~1 µs a character, markup-dense text 10–40 times that, and three constructs were
worse than the rest:

- *Link labels.* At every ``[`` (and ``![``) the link rule scans ahead, re-running the
  inline rules in validation mode over up to ``maxNesting`` (20) nested brackets, to find
  no ``](`` in the end: ``"[a " * n`` cost ~15–40 µs a character, so 1 MB took 15–40 s.
- *Blockquotes with lazy lines.* Each ``>`` line that opens a quote scans every following
  line up to the next blank one, though the quote may end after one line: quadratic, so
  ``"[a\\n>+\\n" * n`` took 19 s for 12 kB.
- *nh3* is super-linear in the entities of one text node (200,000 ``&amp;`` took 7 s).

Hence:

1. The link and image rules give up at once at an opener with no ``](`` after it (no ``]``
   when the document defines link references), found by one cached ``rfind`` per inline
   block: exactly the openers at which they fail anyway, so the HTML is the same.
2. Only a leading part of the text whose *estimated cost* fits :data:`COST_BUDGET` is
   rendered as Markdown; the rest is shown after a note as escaped plain text, paragraphs
   and line breaks kept, and never passes through nh3 (escaping makes it safe). The
   estimate is linear and reads at most ``COST_BUDGET`` characters: one unit a character,
   plus the weights below for markup, lines, container markers, and for each line again
   per blockquote opened before it in its run of non-blank lines (the quadratic scan
   above, counted). A unit is about 1 µs of the worst input found (hand-made families and
   random fuzzing, ``bench/bench_markdown.py``): a render takes ≤ ~0.3 s of CPU whatever
   the input. That renders in full ~110,000 characters of prose, ~160,000 of prose in
   long paragraphs (LLM answers) and ~50,000 of Markdown-dense documentation: in practice
   all a person writes. The cut falls at a line end (mid-line only in a very long line).

Deep nesting of quotes, lists and brackets stops at markdown-it's ``maxNesting`` (20, the
CommonMark preset); emphasis, backtick and HTML-comment scanning are linear in this
markdown-it-py version. The benchmark keeps every family in view.

**Code highlighting** (``render(text, highlight=True)``: conversations and LLM responses).
Fenced code blocks naming a language Pygments knows are highlighted on the server into
``<span class="…">`` runs (Pygments' short token classes, the only classes nh3 lets
through; colours in ``static/css/code.css``, no inline styles, which the CSP forbids).
Highlighting (Pygments' regex lexers, then nh3 over every token's span) costs ~4–10 µs a
character of code (one 18,720-character Python block: 147 ms, against 4 ms unhighlighted;
token-dense ``x = 1`` lines: ~10 µs), so at most :data:`HIGHLIGHT_BUDGET` characters of
code are highlighted per render (≤ ~0.2 s; the rest of the code stays plain) and a block
over :data:`HIGHLIGHT_BLOCK` is not highlighted at all.

Rendered HTML is cached by content digest within :data:`CACHE_BYTES` of HTML, so a task
shown to every annotator costs one render and no cache entry keeps a 1 MB text alive.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections import OrderedDict

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline.image import image as _image_rule
from markdown_it.rules_inline.link import link as _link_rule
from markdown_it.rules_inline.state_inline import StateInline
from pygments import highlight as _pygmentize
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

COST_BUDGET = 400_000  # ≈ 0.2–0.5 s of CPU at worst (2-core host, bench_markdown.py)
# A character that may start an inline token (a parenthesis: a link destination, scanned
# up to 32 levels deep), or becomes an entity that nh3 must parse again (nh3 is
# super-linear in the entities of one text node: 200,000 took 7 s).
MARKUP_WEIGHT = 40
STOP_WEIGHT = 6  # one that only interrupts a run of text: # $ % + - : = @ ^ { } |
LINE_WEIGHT = 60  # a line break: each line may open a block
LEAD_WEIGHT = 30  # a character of a line's container markers ("> - 1. "): opens a block
QUOTE_WEIGHT = 4  # a line, for each blockquote opened before it in its run of lines
CACHE_BYTES = 32 * 1024 * 1024  # characters of cached HTML
HIGHLIGHT_BLOCK = 20_000  # characters of one code block highlighted at most
HIGHLIGHT_BUDGET = 20_000  # characters of code highlighted per render (≤ ~0.2 s, see below)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}
# Pygments' token classes ("k", "nf", "s1", …): the only classes a <span> may carry.
ALLOWED_CLASSES = {"span": {c for c in STANDARD_TYPES.values() if c}}

# What the cost estimate charges for, beyond one unit per character.
_WEIGHTS = (
    dict.fromkeys('[]()!*_~`<>&"\\', MARKUP_WEIGHT)
    | dict.fromkeys("#$%+-:=@^{}|", STOP_WEIGHT)
    | {"\n": LINE_WEIGHT}
)
_MARKUP = re.compile("[" + re.escape("".join(_WEIGHTS)) + "]")
_NEWLINES = re.compile(r"\r\n?")
_BLANK = re.compile(r"[ \t]*(?:\n|\Z)")
_LINE_LEAD = re.compile(r"[ \t>*+\-0-9.)]*")  # container markers: quotes, list items


def _label_can_close(state: StateInline, opener: int) -> bool:
    """Whether anything after ``opener`` could end a link or image label: ``](`` (an inline
    link), or with link references defined any ``]``. A cached ``rfind`` per block and end."""
    needle = "]" if "references" in state.env else "]("
    # getattr, not state.__dict__: touching __dict__ slows every attribute of the state
    cache: dict[tuple[str, int], int] | None = getattr(state, "_lh_label_ends", None)
    if cache is None:
        cache = state._lh_label_ends = {}  # type: ignore[attr-defined]
    key = (needle, state.posMax)
    last = cache.get(key)
    if last is None:
        last = cache[key] = state.src.rfind(needle, 0, state.posMax)
    return last > opener


def _link(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "[" or not _label_can_close(state, state.pos):
        return False
    return _link_rule(state, silent)


def _image(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "!" or not _label_can_close(state, state.pos + 1):
        return False
    return _image_rule(state, silent)


_highlight_left = threading.local()  # characters of code this render may still highlight
_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight_code(code: str, lang: str, _attrs: str) -> str:
    """markdown-it's ``highlight`` hook: Pygments spans for a known language within the
    budget, else ``""`` (markdown-it then escapes the block as usual)."""
    left = getattr(_highlight_left, "n", 0)
    if not lang or len(code) > min(HIGHLIGHT_BLOCK, left):
        return ""
    try:
        lexer = get_lexer_by_name(lang.strip().split()[0][:40])
    except ClassNotFound:
        return ""
    _highlight_left.n = left - len(code)
    return str(_pygmentize(code, lexer, _FORMATTER))


def new_parser(*, label_guard: bool = True, highlight: bool = False) -> MarkdownIt:
    """The configured parser (CommonMark, tables, strikethrough, no raw HTML); benchmarks
    and tests compare with ``label_guard=False``, the stock link and image rules.
    ``highlight`` colours fenced code (see the module note)."""
    options: dict[str, object] = {"html": False, "linkify": False, "typographer": False}
    if highlight:
        options["highlight"] = _highlight_code
    md = MarkdownIt("commonmark", options)  # type: ignore[arg-type]
    md.enable(["table", "strikethrough"])
    if label_guard:
        md.inline.ruler.at("link", _link)
        md.inline.ruler.at("image", _image)
    return md


_md = new_parser()
_md_code = new_parser(highlight=True)


def clean(markup: str) -> str:
    """nh3 with the tags, attributes and URL schemes rendered Markdown may use."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        allowed_classes=ALLOWED_CLASSES,
    )


def _measure(text: str) -> tuple[int, int]:
    """``(n, cost)``: the first ``n`` characters are rendered as Markdown, at an estimated
    ``cost`` (at most :data:`COST_BUDGET`). All of them when the estimate fits, else up to
    the last line end before the budget runs out (or that point, in a very long line).
    Reads at most ``COST_BUDGET`` characters, whatever the length of ``text`` (whose line
    ends must be ``\\n``)."""
    quotes = depth = 0  # blockquotes opened in this run of non-blank lines; '>' of the last

    def line_start(at: int) -> int:
        """The weight of the line at ``at``: one scan step for every blockquote opened so
        far in its run of lines (markdown-it scans each to the next blank line)."""
        nonlocal quotes, depth
        if _BLANK.match(text, at):
            quotes = depth = 0
            return 0
        lead = _LINE_LEAD.match(text, at).group()  # type: ignore[union-attr]
        markers = lead.count(">")
        if lead.strip(" \t>"):  # a list item: new quotes may open at any depth
            quotes += markers
        elif markers > depth:
            quotes += markers - depth
        depth = markers
        opened = len(lead) - lead.count(" ") - lead.count("\t")
        return LEAD_WEIGHT * opened + QUOTE_WEIGHT * quotes

    spent = line_start(0)  # the weights paid so far, on top of one unit per character
    for match in _MARKUP.finditer(text, 0, COST_BUDGET):
        at = match.start()
        weight = _WEIGHTS[match.group()]
        if match.group() == "\n":
            weight += line_start(at + 1)
        if at + 1 + spent + weight > COST_BUDGET:
            cut = at
            break
        spent += weight
    else:  # every markup character fits: plain characters may fill the rest
        cut = COST_BUDGET - spent
        if len(text) <= cut:
            return len(text), len(text) + spent
    line_end = text.rfind("\n", 0, cut)  # cut at a line end, unless that loses too much
    return (line_end + 1 if line_end >= cut // 2 else cut), COST_BUDGET


def _lines(text: str) -> str:
    """``\\n`` line ends, as markdown-it makes them anyway."""
    return _NEWLINES.sub("\n", text) if "\r" in text else text


def markdown_length(text: str) -> int:
    """How many leading characters of ``text`` (after ``\\r\\n`` and ``\\r`` became
    ``\\n``) :func:`render` shows as Markdown."""
    return _measure(_lines(text))[0]


def render_cost(text: str) -> int:
    """The estimated work of rendering ``text``, in the units of :data:`COST_BUDGET` (for
    rate limits): the Markdown part's estimate plus one unit per character shown plain."""
    text = _lines(text)
    n, cost = _measure(text)
    return cost + len(text) - n


def _plain(text: str) -> str:
    """Text shown as is: escaped, paragraphs at blank lines, line breaks kept."""
    text = text.replace("\x00", "\ufffd")
    paragraphs = (p.strip("\n") for p in re.split(r"\n[ \t]*\n", text))
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>\n") + "</p>\n"
        for p in paragraphs
        if p.strip()
    )


def _render(text: str, highlight: bool = False) -> str:
    text = _lines(text)
    n = _measure(text)[0]
    md = _md_code if highlight else _md
    _highlight_left.n = HIGHLIGHT_BUDGET
    if n == len(text):
        return clean(md.render(text))
    rest = text[n:]
    note = (
        f"<p><em>This text is too long to format in full: its last {len(rest):,} "
        "characters are shown as plain text.</em></p>\n"
    )
    # The rest is escaped here, safe by construction: nh3 would take seconds over it.
    return clean(md.render(text[:n])) + "<hr>\n" + note + _plain(rest)


class _Cache:
    """Rendered HTML by SHA-256 of the source, least recently used first out, bounded by
    the characters of HTML held (the former ``lru_cache`` of 4,096 entries kept the source
    texts too: 4,096 one-megabyte tasks). An entry over an eighth of it is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[bytes, str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes) -> str | None:
        with self.lock:
            value = self.entries.get(key)
            if value is not None:
                self.entries.move_to_end(key)
            return value

    def put(self, key: bytes, value: str) -> None:
        cost = len(value) + 100
        if cost > self.max_bytes // 8:
            return
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = value
            self.size += cost
            while self.size > self.max_bytes:
                _, old = self.entries.popitem(last=False)
                self.size -= len(old) + 100


_cache = _Cache(CACHE_BYTES)


def render(text: str | None, *, highlight: bool = False) -> str:
    """Sanitized HTML for untrusted Markdown ``text`` (see the module note on long text);
    ``highlight`` colours fenced code blocks with Pygments classes."""
    text = text or ""
    digest = hashlib.sha256(b"c" if highlight else b"")
    digest.update(text.encode("utf-8", "surrogatepass"))
    key = digest.digest()
    cached = _cache.get(key)
    if cached is None:
        cached = _render(text, highlight)
        _cache.put(key, cached)
    return cached
