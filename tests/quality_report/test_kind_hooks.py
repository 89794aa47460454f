"""Quality hooks of the field kinds: the free-text similarity hook (built-ins, registered
functions, plugins by entry point, "none"), option lists of multi-choice fields, ranks of
preference values."""

from __future__ import annotations

import math
from importlib import metadata

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.kinds import text as text_kind
from labelhouse.kinds.registry import parse_schema
from labelhouse.quality_report import service
from tests.factories import add_member, add_tasks, make_org, make_project
from tests.quality_report.helpers import annotate


def shout_similarity(a: str, b: str) -> float:
    """A plugin's similarity for the entry-point test (case-insensitive equality)."""
    return 1.0 if a.upper() == b.upper() else 0.25


def _text_field(**config):
    return parse_schema({"fields": [{"name": "t", "kind": "text", **config}]}).field("t")


def test_builtin_similarities_and_none():
    assert _text_field().agreement_kind() == "none"  # the default: no statistic
    assert _text_field(similarity="token_f1").compare("the cat sat", "The cat") == pytest.approx(
        0.8
    )
    exact = _text_field(similarity="exact")
    assert exact.compare(" yes ", "yes") == 1.0 and exact.compare("yes", "Yes") == 0.0
    off = _text_field(similarity="none")
    assert off.agreement_kind() == "none" and math.isnan(off.compare("a", "a"))
    with pytest.raises(InvalidInput) as err:
        _text_field(similarity="cosine")
    assert "unknown similarity 'cosine'" in str(err.value.details)
    assert "token_f1" in str(err.value.details)


def test_registered_and_plugin_similarities(monkeypatch):
    text_kind.register_similarity("halves", lambda a, b: 0.5)
    assert _text_field(similarity="halves").compare("a", "b") == 0.5
    with pytest.raises(ValueError, match="reserved"):
        text_kind.register_similarity("none", lambda a, b: 1.0)
    plugin = metadata.EntryPoint(
        name="shout",
        value="tests.quality_report.test_kind_hooks:shout_similarity",
        group=text_kind.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(text_kind.metadata, "entry_points", lambda group: [plugin])
    text_kind._entry_points.cache_clear()
    try:
        assert "shout" in text_kind.similarity_names()
        field = _text_field(similarity="shout")
        assert field.compare("Hi", "HI") == 1.0 and field.compare("a", "b") == 0.25
    finally:
        text_kind._entry_points.cache_clear()
        text_kind._similarities.pop("shout", None)
        text_kind._similarities.pop("halves", None)


def test_report_uses_the_fields_similarity_or_none(db):
    schema = {
        "fields": [
            {"name": "fix", "kind": "text", "similarity": "exact"},
            {"name": "why", "kind": "text", "similarity": "none"},
        ]
    }
    owner = make_org(db)
    pid = make_project(db, owner, schema=schema, overlap=2)
    add_tasks(db, owner, pid, [{"text": f"t {i}", "external_id": f"t{i}"} for i in range(2)])
    a, b = add_member(db, owner), add_member(db, owner)
    annotate(db, a, pid, {"t0": {"fix": "same", "why": "x"}, "t1": {"fix": "one", "why": "y"}})
    annotate(db, b, pid, {"t0": {"fix": "same", "why": "z"}, "t1": {"fix": "two", "why": "y"}})
    with db.read_session() as s:
        report = service.project_report(s, owner.actor, pid)
    fields = {f.name: f for f in report.fields}
    assert fields["fix"].metrics["mean_similarity"] == pytest.approx(0.5)
    assert fields["why"].metrics == {} and fields["why"].agreement is None
    assert (fields["why"].tasks, fields["why"].overlapping_tasks) == (2, 2)
    assert fields["why"].consensus_method == "none"
    assert [h.fields for h in report.hotspots] == [{"fix": 0.0}, {"fix": 1.0}]


def test_choices_options_and_preference_ranks():
    schema = parse_schema(
        {
            "fields": [
                {"name": "c", "kind": "choices", "options": [{"value": "x"}, {"value": "y"}]},
                {"name": "p", "kind": "pairwise"},
                {"name": "r", "kind": "ranking", "allow_ties": True},
            ]
        }
    )
    c, p, r = (schema.field(n) for n in "cpr")
    assert c.classes() == ["x", "y"] and c.options_of(["y"]) == ["y"]
    assert c.options_of("x") is None
    assert [p.ranks_of({"choice": x}) for x in ("A", "B", "tie")] == [[1, 2], [2, 1], [1, 1]]
    assert p.ranks_of({"choice": None}) is None
    assert r.ranks_of([2, 1, 2]) == [2, 1, 2] and r.ranks_of("x") is None
