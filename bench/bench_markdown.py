"""Markdown rendering time against input size, for adversarial inputs and ordinary text.

    .venv/bin/python bench/bench_markdown.py                   # 10 kB, 100 kB, 1 MB
    .venv/bin/python bench/bench_markdown.py --sizes 1000000 --before-max 0
    .venv/bin/python bench/bench_markdown.py --only "link openers" --before-max 1000000

"before" is the stock markdown-it-py link and image rules on the whole text, then nh3 — the
renderer as it was; "after" is ``labelhouse.markdown`` (label guard + cost budget), without
its cache. Each figure is CPU milliseconds of one render in this process (the steadier
figure on a shared machine), with ``md`` the characters rendered as Markdown (the rest is
shown as plain text). "before" runs only up to ``--before-max`` characters: 1 MB of the
worst families took 12–20 s, lazy blockquote lines over a minute.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

from labelhouse import markdown

ROOT = Path(__file__).resolve().parent.parent


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _normal(n: int) -> str:
    """The project's own documentation, repeated: headings, tables, lists, code, links."""
    docs = "\n\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    return _repeat(docs + "\n\n")(n)


def _nested_lists(n: int) -> str:
    out, i = [], 0
    while sum(map(len, out)) < n:
        out.append("  " * (i % 400) + "- a\n")
        i += 1
    return "".join(out)[:n]


def _backticks(n: int) -> str:
    out, i = [], 1
    while sum(map(len, out)) < n:
        out.append("e" + "`" * (i % 3000))
        i += 1
    return "".join(out)[:n]


FAMILIES: dict[str, Callable[[int], str]] = {
    "normal document": _normal,
    "link openers '[a '": _repeat("[a "),
    "link openers + '](' at the end": lambda n: _repeat("[a ")(n - 2) + "](",
    "images '![](' ": _repeat("![]("),
    "nested brackets [[[a]]]()": lambda n: "[" * (n // 2 - 2) + "a" + "]" * (n // 2 - 2) + "()",
    "destination parens 'x![{%]('": _repeat("http://x![{%]("),
    "emphasis '*a **a ...a** a*'": lambda n: "*a **a " * (n // 14) + "b" + " a** a*" * (n // 14),
    "emphasis openers '_a '": _repeat("_a "),
    "mismatched '*a_ '": _repeat("*a_ "),
    "strikethrough '~~a'": _repeat("~~a"),
    "backtick runs": _backticks,
    "nested quotes '> ' x 30": _repeat("> " * 30 + "a\n"),
    "nested lists": _nested_lists,
    "list items '- a'": _repeat("- a\n"),
    "table rows": lambda n: "|a|b|\n|-|-|\n" + _repeat("|x|y|\n")(n - 12),
    "html blocks '<div>'": _repeat("<div>\n"),
    "html comments '<!--'": lambda n: "</" + _repeat("<!--")(n - 2),
    "quotes with lazy lines '[a\\n>+'": _repeat("[a\n>+\n"),
    "fences in quotes '> ```'": _repeat("> ```\na\n"),
    "nested list items '- - - a'": _repeat("- - - a\n"),
    "entities 'a & '": _repeat("a & "),
    "text stops ':'": _repeat(":"),
}


# Quadratic before: "before" only at 10 kB (~10–20 s each; 100 kB would take half an hour).
QUADRATIC = {"quotes with lazy lines '[a\\n>+'", "fences in quotes '> ```'"}


def _old(text: str) -> str:
    return markdown.clean(_stock.render(text))


_stock = markdown.new_parser(label_guard=False)


def _cpu_ms(render: Callable[[str], str], text: str, repeat: int) -> float:
    """The fastest of ``repeat`` renders: the least disturbed by other work on the host."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        render(text)
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--before-max", type=int, default=100_000)
    parser.add_argument("--only", help="families whose name contains this")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (before: ≤ 10 kB)")
    args = parser.parse_args()
    families = {k: v for k, v in FAMILIES.items() if not args.only or args.only in k}
    header = ["family".ljust(32)]
    for size in args.sizes:
        header += [f"{size // 1000}k before".rjust(12), "after".rjust(8), "md".rjust(8)]
    print(" ".join(header))
    for name, make in families.items():
        cells = [name.ljust(32)]
        for size in args.sizes:
            text = make(size)
            if size <= (10_000 if name in QUADRATIC else args.before_max):
                repeat = args.repeat if size <= 10_000 else 1
                before = f"{_cpu_ms(_old, text, repeat):,.0f}"
            else:
                before = "-"
            after = _cpu_ms(markdown._render, text, args.repeat)
            cells += [before.rjust(12), f"{after:,.0f}".rjust(8)]
            cells.append(f"{markdown.markdown_length(text):,}".rjust(8))
        print(" ".join(cells), flush=True)
    print(
        f"\nCPU ms per render; budget {markdown.COST_BUDGET:,} units "
        f"(markup {markdown.MARKUP_WEIGHT}, text stop {markdown.STOP_WEIGHT}, "
        f"line {markdown.LINE_WEIGHT}, character 1)"
    )


if __name__ == "__main__":
    from conditions import with_conditions

    with_conditions(main)
