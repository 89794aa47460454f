"""The stylesheets' colours meet WCAG 2.1 AA (issue 13 item 8): text 4.5:1 against what it
sits on, focus rings and input borders 3:1 (non-text contrast, 1.4.11). Read from the CSS
files themselves: the custom properties of ``:root`` and every rule that sets both a text
colour and a solid background. axe's colour-contrast rule checks the rendered pages too
(tests/browser/test_accessibility.py); this catches what no page of the walk happens to show.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src" / "labelhouse" / "web" / "static" / "css"


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def rules(text: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every rule, @media blocks flattened."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for chunk in text.split("}"):
        if "{" not in chunk:
            continue
        selector, _, body = chunk.rpartition("{")
        selector = selector.rpartition("{")[2].strip()
        decls = {}
        for part in body.split(";"):
            name, sep, value = part.partition(":")
            if sep:
                decls[name.strip()] = value.strip()
        out.append((selector, decls))
    return out


def root_properties() -> dict[str, str]:
    props: dict[str, str] = {}
    for selector, decls in rules((CSS / "app.css").read_text()):
        if selector == ":root":
            props.update({k: v for k, v in decls.items() if k.startswith("--")})
    return props


PROPS = root_properties()


def colour(value: str) -> str | None:
    """A solid colour as #hex, following var(); None for anything else (gradients,
    color-mix, transparency, currentColor, inherit)."""
    value = value.replace("!important", "").strip()
    m = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if m:  # properties set per element (e.g. a label's --mark) are not known here
        return colour(PROPS[m.group(1)]) if m.group(1) in PROPS else None
    if value in ("#fff", "white"):
        return "#ffffff"
    return value if re.fullmatch(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}", value) else None


TEXT_ON = [  # (text, background): 4.5:1
    ("--fg", "--bg"),
    ("--fg", "--card"),
    ("--muted", "--bg"),
    ("--muted", "--card"),
    ("--accent", "--bg"),  # links
    ("--accent", "--card"),
    ("--accent-fg", "--accent"),  # primary buttons, key hints in Submit
    ("--ok", "--bg"),
    ("--ok", "--card"),  # "Valid" and other good news
    ("--accent-fg", "--ok"),  # a chosen pairwise response's pressed button
    ("--warn", "--bg"),  # the "in progress" number
    ("--warn", "--card"),
    ("--danger", "--bg"),
    ("--danger", "--card"),
    ("--topbar-fg", "--topbar"),
    ("--topbar-muted", "--topbar"),
]
UI_ON = [  # (component, what it sits next to): 3:1
    ("--focus", "--bg"),
    ("--focus", "--card"),
    ("--focus-on-dark", "--topbar"),  # the top bar's own focus ring
    ("--field-line", "--bg"),  # input borders
    ("--field-line", "--card"),
    ("--warn", "--card"),  # the "in progress" bar
    ("--ok", "--card"),  # the "done" bar
]


@pytest.mark.parametrize(("fg", "bg"), TEXT_ON)
def test_text_colours_have_4_5_to_1(fg: str, bg: str):
    got = ratio(colour(PROPS[fg]), colour(PROPS[bg]))
    assert got >= 4.5, f"{fg} {PROPS[fg]} on {bg} {PROPS[bg]}: {got:.2f}:1"


@pytest.mark.parametrize(("fg", "bg"), UI_ON)
def test_focus_rings_and_borders_have_3_to_1(fg: str, bg: str):
    got = ratio(colour(PROPS[fg]), colour(PROPS[bg]))
    assert got >= 3.0, f"{fg} {PROPS[fg]} next to {bg} {PROPS[bg]}: {got:.2f}:1"


def test_inputs_and_focus_use_those_properties():
    decls = dict(rules((CSS / "app.css").read_text()))
    assert "var(--field-line)" in decls["input, select, textarea"]["border"]
    assert "var(--focus)" in decls[":focus-visible"]["outline"]


def test_every_rule_with_a_text_colour_and_a_background_has_4_5_to_1():
    checked, low = 0, []
    for path in sorted(CSS.glob("*.css")):
        for selector, decls in rules(path.read_text()):
            fg = colour(decls.get("color", ""))
            bg = colour(decls.get("background", decls.get("background-color", "")))
            if fg and bg:
                checked += 1
                if ratio(fg, bg) < 4.5:
                    low.append(f"{path.name}: {selector}: {fg} on {bg} {ratio(fg, bg):.2f}:1")
    assert checked >= 10  # the parser found the rules
    assert low == []


def test_the_ratio_matches_the_wcag_examples():
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert ratio("#ffbf47", "#ffffff") == pytest.approx(1.64, abs=0.01)  # the old focus ring
