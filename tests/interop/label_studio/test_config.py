"""Labeling configs (as Label Studio stored them) → Labelhouse schemas, and back."""

from __future__ import annotations

import pytest

from labelhouse.errors import InvalidInput
from labelhouse.interop.label_studio.config import parse_config
from labelhouse.interop.label_studio.layout import write_config
from labelhouse.kinds.registry import parse_schema
from tests.interop.label_studio.fixtures import PROJECTS, config_text, conversion


def kinds(name: str) -> dict[str, str]:
    return {f.name: f.kind_name for f in conversion(name).schema.fields}


def test_each_fixture_config_becomes_a_schema_of_the_matching_kinds() -> None:
    assert kinds("classification") == {
        "sentiment": "choice",
        "topics": "choices",
        "stars": "rating",
        "comment": "text",
    }
    assert kinds("ner") == {"entities": "spans"}
    assert kinds("boxes") == {"objects": "boxes"}
    assert kinds("pairwise") == {"preference": "pairwise"}
    assert kinds("ranker") == {"rank": "ranking"}
    for name in PROJECTS:
        assert conversion(name).warnings == []


def test_field_settings_follow_the_tags() -> None:
    fields = {f.name: f.model_dump() for f in conversion("classification").schema.fields}
    assert fields["sentiment"]["required"] is True  # required="true"
    assert fields["sentiment"]["reads"] == ["text"]
    assert [o["value"] for o in fields["sentiment"]["options"]] == [
        "Positive",
        "Negative",
        "Neutral",
    ]
    assert fields["sentiment"]["options"][0]["hotkey"] == "p"
    assert fields["topics"]["required"] is False and fields["topics"]["min_selected"] == 0
    assert (fields["stars"]["min"], fields["stars"]["max"]) == (1, 5)
    spans = conversion("ner").schema.fields[0].model_dump()
    assert spans["source"] == "text" and spans["allow_overlap"] is True
    assert [(o["value"], o["color"]) for o in spans["labels"]] == [
        ("PER", "#ff0000"),
        ("ORG", "#00aa00"),
        ("LOC", "#0000ff"),
    ]
    boxes = conversion("boxes").schema.fields[0].model_dump()
    assert boxes["image"] == "image" and [o["value"] for o in boxes["labels"]] == ["car", "person"]
    # the <Header value="$prompt"/> and the query <Text> no control labels are the prompts
    pair = conversion("pairwise").schema.fields[0].model_dump()
    assert (pair["prompt"], pair["responses"], pair["allow_tie"]) == (
        "prompt",
        "preference_responses",
        False,
    )
    rank = conversion("ranker").schema.fields[0].model_dump()
    assert (rank["prompt"], rank["responses"]) == ("query", "rank_responses")


@pytest.mark.parametrize("name", PROJECTS)
def test_the_written_config_parses_back_to_the_same_schema(name: str) -> None:
    first = conversion(name)
    again = parse_config(write_config(first.schema))
    assert again.document == first.document
    assert again.warnings == []


def test_a_labelhouse_schema_keeps_its_kinds_and_options_through_a_config() -> None:
    schema = parse_schema(
        {
            "fields": [
                {
                    "name": "label",
                    "kind": "choice",
                    "reads": ["text"],
                    "options": [{"value": "pos", "label": "Positive"}, {"value": "neg"}],
                },
                {"name": "score", "kind": "rating", "min": 0, "max": 10, "reads": ["text"]},
                {"name": "ents", "kind": "spans", "source": "text", "labels": [{"value": "X"}]},
                {"name": "pick", "kind": "pairwise", "prompt": "prompt"},
                {"name": "why", "kind": "text", "required": False, "placeholder": "Because…"},
            ]
        }
    )
    xml = write_config(schema)
    assert '<Choice value="Positive" alias="pos" />' in xml
    back = {f.name: f.model_dump(exclude_none=True) for f in parse_config(xml).schema.fields}
    assert {name: f["kind"] for name, f in back.items()} == {
        "label": "choice",
        "score": "rating",
        "ents": "spans",
        "pick": "pairwise",
        "why": "text",
    }
    assert back["label"]["options"] == [{"value": "pos", "label": "Positive"}, {"value": "neg"}]
    assert back["score"]["max"] == 11  # Label Studio's scale starts at 1: 0..10 is 1..11
    assert back["why"]["placeholder"] == "Because…" and back["why"]["required"] is False
    assert back["pick"]["prompt"] == "prompt"


def test_tags_without_a_field_kind_are_skipped_with_a_warning_naming_them() -> None:
    result = parse_config(
        """<View>
          <Image name="img" value="$image"/>
          <PolygonLabels name="poly" toName="img"><Label value="a"/></PolygonLabels>
          <Choices name="ok" toName="img"><Choice value="yes"/></Choices>
          <Rating name="per_box" toName="img" perRegion="true"/>
          <Choices name="dyn" toName="img" value="$options"/>
        </View>"""
    )
    assert [f.name for f in result.schema.fields] == ["ok"]
    assert any('<PolygonLabels name="poly">' in w and "no field kind" in w for w in result.warnings)
    assert any("per_box" in w and "region" in w for w in result.warnings)
    assert any("dyn" in w and "task data" in w for w in result.warnings)


def test_a_config_with_nothing_to_carry_over_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config(
            '<View><Image name="i" value="$i"/><KeyPointLabels name="k" toName="i"/></View>'
        )
    assert "no control Labelhouse can carry over" in caught.value.message
    assert "KeyPointLabels" in caught.value.details[0].problem


def test_an_invalid_generated_schema_names_the_tag() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config('<View><Text name="t" value="$t"/><Choices name="c" toName="t"/></View>')
    assert caught.value.details[0].field.startswith('<Choices name="c">')


def test_broken_xml_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config("<View>\n<Text name='t' value='$t'>\n</View>")
    assert "not well-formed XML (line 3" in caught.value.message


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="&lol9;"/></Choices></View>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE View [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="&secret;"/></Choices></View>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE View SYSTEM "http://127.0.0.1:9/evil.dtd">
<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices></View>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_hostile_xml_is_refused_with_a_sentence(xml: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config(xml)
    assert caught.value.message.startswith("The labeling config declares a DTD or entities")
    assert "remove the <!DOCTYPE" in caught.value.message


def test_a_huge_config_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config("<View>" + " " * (1024 * 1024) + "</View>")
    assert "at most 1,048,576 are accepted" in caught.value.message


def test_config_text_of_the_fixtures_is_what_label_studio_stored() -> None:
    assert config_text("pairwise").startswith("<View>")
    assert 'toName="answer_a,answer_b"' in config_text("pairwise")
