"""The ``breakable`` template filter: long file names wrap at their separators only, and
the text stays escaped."""

from labelhouse.web.pages.common import TEMPLATES, breakable


def test_a_break_chance_after_each_separator_only():
    assert str(breakable("my_file-2026.v2/final.jsonl")) == (
        "my_<wbr>file-<wbr>2026.<wbr>v2/<wbr>final.<wbr>jsonl"
    )
    assert str(breakable("plain")) == "plain"
    assert str(breakable("ends-")) == "ends-"  # nothing to break before


def test_markup_in_a_name_stays_text():
    out = TEMPLATES.env.from_string("{{ name | breakable }}").render(
        name="<img src=x onerror=alert(1)>.jsonl"
    )
    assert out == "&lt;img src=x onerror=alert(1)&gt;.<wbr>jsonl"
