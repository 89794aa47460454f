"""A Label Studio labeling config (XML) → a Labelhouse schema, safely.

The config is untrusted input: it is parsed with ``defusedxml`` with DTDs forbidden, so a
document type declaration — the carrier of entity expansion ("billion laughs") and external
entities (file or network reads) — is refused before anything is expanded. Label Studio
configs never need one.

Tags Labelhouse has no field kind for (polygons, key points, brushes, taxonomies, numbers,
dates, relations, per-region controls…) are **skipped with a warning** rather than refused:
a project's main fields usually map, and blocking its migration on an auxiliary control
would leave the user with nothing. Every warning names the tag, and the importer's
``strict`` mode turns them into an error before anything is written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from labelhouse.errors import InvalidInput, Problem
from labelhouse.interop.label_studio.controls import TAG_OF_KIND, Control, field_name, responses_key
from labelhouse.kinds.registry import LabelSchema, parse_schema

MAX_CONFIG_BYTES = 1024 * 1024
# Object tags whose ``value="$key"`` shows task data a control can label.
OBJECT_TAGS = {"Text", "HyperText", "Image", "List", "Paragraphs", "Audio", "Video", "Table"}
# Tags that only show things (or lay them out): nothing to carry over, nothing to warn about.
LAYOUT_TAGS = {"View", "Header", "Style", "Collapse", "Panel", "Filter", "Choice", "Label"}
LAYOUT_TAGS |= {"Bucket", "Shortcut", "Char", "Markdown"}
_DATA_KEY = re.compile(r"^\s*\$([^\s$]+)\s*$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class Conversion:
    """A parsed config: the Labelhouse schema, where each field's answers are in Label
    Studio results (by control name), and what was not carried over."""

    schema: LabelSchema
    document: dict[str, Any]
    controls: dict[str, Control]
    warnings: list[str] = field(default_factory=list)


def parse_xml(text: str | bytes) -> ET.Element:
    """The config's root element; a sentence for a DTD, an entity or broken XML."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_CONFIG_BYTES:
        raise InvalidInput(
            f"The labeling config is {size:,} bytes; at most {MAX_CONFIG_BYTES:,} are accepted.",
            [Problem("config", "too large")],
        )
    try:
        return SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True)
    except DefusedXmlException as exc:
        raise InvalidInput(
            "The labeling config declares a DTD or entities, which are refused: they can "
            "expand without bound or read files; remove the <!DOCTYPE …> part.",
            [Problem("config", type(exc).__name__)],
        ) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise InvalidInput(
            f"The labeling config is not well-formed XML (line {line}, column {column + 1}).",
            [Problem(f"config:{line}", str(exc).split(":")[0])],
        ) from None


def parse_config(text: str | bytes) -> Conversion:
    """Turn a labeling config into a Labelhouse schema; raises ``InvalidInput`` when nothing
    maps or the generated schema is invalid (naming the tag)."""
    root = parse_xml(text)
    objects: dict[str, tuple[str, str | None]] = {}  # name → (tag, data key)
    shown_keys: list[tuple[str, str]] = []  # (name or "", data key) of every tag showing data
    for element in root.iter():
        key = _data_key(element.get("value"))
        if element.tag in OBJECT_TAGS and element.get("name"):
            objects[element.get("name", "")] = (element.tag, key)
        if key is not None and (element.tag in OBJECT_TAGS or element.tag == "Header"):
            shown_keys.append((element.get("name") or "", key))
    warnings: list[str] = []
    fields: list[dict[str, Any]] = []
    controls: dict[str, Control] = {}
    targeted: set[str] = set()
    for element in root.iter():
        tag, name, to_name = element.tag, element.get("name"), element.get("toName")
        if tag in OBJECT_TAGS or tag in LAYOUT_TAGS or not isinstance(tag, str):
            continue
        if not name or not to_name:
            warnings.append(f"<{tag}> is not a tag Labelhouse knows; it was skipped")
            continue
        targets = [t.strip() for t in to_name.split(",") if t.strip()]
        targeted.update(targets)
        made = _field(element, targets, objects, warnings)
        if made is None:
            continue
        document, control = made
        if control.field in {f["name"] for f in fields}:
            warnings.append(
                f'<{tag} name="{name}"> has the same field name as an earlier control '
                f"('{control.field}'); it was skipped"
            )
            continue
        fields.append(document)
        controls[name] = control
    if not fields:
        raise InvalidInput(
            "The labeling config has no control Labelhouse can carry over.",
            [Problem("config", w) for w in warnings]
            or [Problem("config", "add e.g. <Choices>, <Labels> or <RectangleLabels>")],
        )
    _set_prompts(fields, shown_keys, targeted)
    try:
        schema = parse_schema({"fields": fields})
    except InvalidInput as exc:
        raise InvalidInput(
            "The schema made from the labeling config is invalid: " + exc.message,
            [_name_tag(p, fields, controls) for p in exc.details],
        ) from None
    document = schema.model_dump(mode="json", exclude_none=True)
    return Conversion(schema, document, controls, warnings)


def _name_tag(
    problem: Problem, fields: list[dict[str, Any]], controls: dict[str, Control]
) -> Problem:
    """``fields[2].options`` → ``<Choices name="x">.options``: the user knows tags."""
    match = re.match(r"fields\[(\d+)\](.*)", problem.field)
    if not match or int(match.group(1)) >= len(fields):
        return problem
    field_doc = fields[int(match.group(1))]
    control = next(c for c in controls.values() if c.field == field_doc["name"])
    tag = TAG_OF_KIND[control.kind][0]
    return Problem(f'<{tag} name="{control.name}">{match.group(2)}', problem.problem)


def _data_key(value: str | None) -> str | None:
    match = _DATA_KEY.match(value or "")
    return match.group(1) if match else None


def _options(element: ET.Element, child: str) -> list[dict[str, Any]]:
    """``<Choice>``/``<Label>`` children as options: the stored value is what Label Studio
    writes in results (``alias`` when given, else ``value``); ``value`` is then the label."""
    options = []
    for item in element.iter(child):
        shown = item.get("value")
        stored = item.get("alias") or shown
        if not stored:
            continue
        option: dict[str, Any] = {"value": stored}
        if shown and shown != stored:
            option["label"] = shown
        hotkey = item.get("hotkey") or ""
        if len(hotkey) == 1:
            option["hotkey"] = hotkey
        color = item.get("background") or ""
        if child == "Label" and _COLOR.match(color):
            option["color"] = color.lower()
        hint = item.get("hint")
        if hint:
            option["description"] = hint
        options.append(option)
    return options


def _field(
    element: ET.Element,
    targets: list[str],
    objects: dict[str, tuple[str, str | None]],
    warnings: list[str],
) -> tuple[dict[str, Any], Control] | None:
    """One control → (field document, where its answers are), or ``None`` with a warning."""
    tag, name = element.tag, element.get("name", "")
    described = f'<{tag} name="{name}">'
    kind = {
        "Choices": "choices" if element.get("choice") == "multiple" else "choice",
        "Labels": "spans",
        "RectangleLabels": "boxes",
        "Rating": "rating",
        "TextArea": "text",
        "Pairwise": "pairwise",
        "Ranker": "ranking",
    }.get(tag)
    if kind is None:
        warnings.append(f"{described}: Labelhouse has no field kind for <{tag}>; it was skipped")
        return None
    if element.get("perRegion") == "true" or element.get("perItem") == "true":
        warnings.append(
            f"{described} rates each region or item, which Labelhouse cannot hold; it was skipped"
        )
        return None
    unknown = [t for t in targets if t not in objects]
    if unknown:
        warnings.append(
            f"{described} labels '{unknown[0]}', which is not an object tag with a $data "
            "value; it was skipped"
        )
        return None
    seen = [objects[t] for t in targets]
    keys = [key for _, key in seen if key is not None]
    doc: dict[str, Any] = {"kind": kind, "name": field_name(name)}
    doc["required"] = element.get("required") == "true"
    result_type = TAG_OF_KIND[kind][1]
    control = Control(name, doc["name"], kind, result_type, targets[0])
    if kind in ("choice", "choices"):
        if element.get("value"):
            warnings.append(f"{described} takes its choices from task data; it was skipped")
            return None
        doc["options"] = _options(element, "Choice")
        if kind == "choices":
            doc["min_selected"] = 0 if not doc["required"] else 1
        doc["reads"] = list(dict.fromkeys(keys))
    elif kind in ("rating", "text"):
        doc["reads"] = list(dict.fromkeys(keys))
        if kind == "rating":
            doc["max"] = _int(element.get("maxRating"), 5)
        elif element.get("placeholder"):
            doc["placeholder"] = element.get("placeholder")
    elif kind == "spans":
        if seen[0][0] != "Text" or not keys:
            warnings.append(f"{described} marks spans on <{seen[0][0]}>, not on <Text>; skipped")
            return None
        doc |= {"source": keys[0], "labels": _options(element, "Label"), "allow_overlap": True}
        control = Control(name, doc["name"], kind, result_type, targets[0], text_key=keys[0])
    elif kind == "boxes":
        if seen[0][0] != "Image" or not keys:
            warnings.append(f"{described} draws boxes on <{seen[0][0]}>, not on <Image>; skipped")
            return None
        doc |= {"image": keys[0], "labels": _options(element, "Label")}
        control = Control(name, doc["name"], kind, result_type, targets[0], image_key=keys[0])
    elif kind == "pairwise":
        if len(targets) != 2 or len(keys) != 2:
            warnings.append(f"{described} compares {len(targets)} objects, not two; skipped")
            return None
        doc |= {"responses": responses_key(doc["name"]), "prompt": None, "allow_tie": False}
        control = Control(name, doc["name"], kind, result_type, name, sources=tuple(keys))
    else:  # ranking
        if seen[0][0] != "List" or not keys or any(True for _ in element.iter("Bucket")):
            warnings.append(
                f"{described} sorts into buckets or ranks something other than a <List>; "
                "only a plain ranking of a <List> is carried over, so it was skipped"
            )
            return None
        doc |= {"responses": responses_key(doc["name"]), "prompt": None}
        control = Control(name, doc["name"], kind, result_type, targets[0], sources=(keys[0],))
    return doc, control


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _set_prompts(
    fields: list[dict[str, Any]], shown: list[tuple[str, str]], targeted: set[str]
) -> None:
    """A pairwise or ranking field's prompt: the one data key shown by a tag no control
    labels (a ``<Header value="$prompt"/>``, the query ``<Text>`` above a ranked list). With
    none or several such keys the field has no prompt."""
    loose = {key for name, key in shown if name not in targeted}
    if len(loose) != 1:
        return
    (prompt,) = loose
    for doc in fields:
        if doc["kind"] in ("pairwise", "ranking") and doc["responses"] != prompt:
            doc["prompt"] = prompt
