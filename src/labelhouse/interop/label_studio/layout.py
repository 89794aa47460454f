"""A Labelhouse schema → a Label Studio labeling config, and where each field's answers go
in the results the writer makes (the same :class:`Control` the reader uses).

Objects are named after the data key they show (``<Text name="text" value="$text"/>``),
controls after the field. Pairwise and ranking fields get the data keys Label Studio needs
(``<field>_a``/``<field>_b``, ``<field>_items``, see ``controls.py``); their prompt is a
``<Header>`` so that reading the config back finds it again. A config written here parses
back (``config.parse_config``) to the schema it came from when that schema came from Label
Studio; docs/label-studio.md lists what a Labelhouse-only setting becomes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from labelhouse.interop.label_studio.controls import TAG_OF_KIND, Control
from labelhouse.kinds.base import FieldKind, Option
from labelhouse.kinds.registry import LabelSchema


def pair_keys(field: str) -> tuple[str, str]:
    return f"{field}_a", f"{field}_b"


def items_key(field: str) -> str:
    return f"{field}_items"


class _Objects:
    """The object tags a config shows, one per data key, named after it (a name a control
    already uses gets a ``_data`` suffix)."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.tags: dict[str, tuple[str, str]] = {}  # data key → (tag, object name)

    def name(self, tag: str, key: str) -> str:
        if key not in self.tags:
            name = key if key not in self.taken else f"{key}_data"
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            self.tags[key] = (tag, name)
        return self.tags[key][1]


def check_mappable(schema: LabelSchema) -> None:
    """Refuse, naming each field, a schema with a kind Label Studio has no control for
    (a rubric's criteria, weights and critical flags have no Label Studio equivalent)."""
    from labelhouse.errors import InvalidInput, Problem

    problems = [
        Problem(
            f.name, f"a {f.kind_name} field has no Label Studio control; export jsonl, json or csv"
        )
        for f in schema.fields
        if f.kind_name not in TAG_OF_KIND
    ]
    if problems:
        raise InvalidInput("Label Studio cannot show every field of this schema.", problems)


def layout(schema: LabelSchema) -> tuple[dict[str, Control], _Objects, list[str]]:
    """Each field's control, the objects they label, and the prompts shown as headers."""
    check_mappable(schema)
    objects = _Objects({f.name for f in schema.fields})
    controls: dict[str, Control] = {}
    prompts: list[str] = []
    for f in schema.fields:
        result_type = TAG_OF_KIND[f.kind_name][1]
        kind = f.kind_name
        doc: dict[str, Any] = f.model_dump()
        if kind == "spans":
            to = objects.name("Text", doc["source"])
            control = Control(f.name, f.name, kind, result_type, to, text_key=doc["source"])
        elif kind == "boxes":
            to = objects.name("Image", doc["image"])
            control = Control(f.name, f.name, kind, result_type, to, image_key=doc["image"])
        elif kind == "pairwise":
            for key in pair_keys(f.name):
                objects.name("Text", key)
            control = Control(f.name, f.name, kind, result_type, f.name, sources=pair_keys(f.name))
        elif kind == "ranking":
            to = objects.name("List", items_key(f.name))
            control = Control(f.name, f.name, kind, result_type, to, sources=(items_key(f.name),))
        else:
            reads = doc.get("reads") or []
            names = [objects.name("Text", key) for key in reads]
            to = ",".join(names) if names else ""
            control = Control(f.name, f.name, kind, result_type, to)
        if kind in ("pairwise", "ranking") and doc.get("prompt") and doc["prompt"] not in prompts:
            prompts.append(doc["prompt"])
        controls[f.name] = control
    for name, control in list(controls.items()):
        if not control.to_name:  # a field that reads nothing still needs an object in LS
            first = next(iter(objects.tags.values()), None)
            to = first[1] if first else objects.name("Text", "text")
            controls[name] = Control(name, name, control.kind, control.result_type, to)
    return controls, objects, prompts


def write_config(schema: LabelSchema) -> str:
    """The labeling config for ``schema``, as indented XML text."""
    controls, objects, prompts = layout(schema)
    view = ET.Element("View")
    for prompt in prompts:
        ET.SubElement(view, "Header", value=f"${prompt}")
    for key, (tag, name) in objects.tags.items():
        ET.SubElement(view, tag, {"name": name, "value": f"${key}"})
    for f in schema.fields:
        _control(view, f, controls[f.name], objects)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def _control(view: ET.Element, f: FieldKind, control: Control, objects: _Objects) -> None:
    tag = TAG_OF_KIND[f.kind_name][0]
    to_name = control.to_name
    if control.kind == "pairwise":
        to_name = ",".join(objects.tags[key][1] for key in control.sources)
    attrs = {"name": control.name, "toName": to_name}
    if f.required:
        attrs["required"] = "true"
    doc = f.model_dump()
    if f.kind_name == "choice":
        attrs["choice"] = "single"
    elif f.kind_name == "choices":
        attrs["choice"] = "multiple"
    elif f.kind_name == "rating":
        attrs["maxRating"] = str(doc["max"] - doc["min"] + 1)  # Label Studio counts from 1
    elif f.kind_name == "text" and doc.get("placeholder"):
        attrs["placeholder"] = doc["placeholder"]
    element = ET.SubElement(view, tag, attrs)
    child = "Choice" if tag == "Choices" else "Label"
    for option in doc.get("options") or doc.get("labels") or []:
        ET.SubElement(element, child, _option(Option.model_validate(option), child))


def _option(option: Option, child: str) -> dict[str, str]:
    attrs = {"value": option.label or option.value}
    if option.label and option.label != option.value:
        attrs["alias"] = option.value
    if option.hotkey:
        attrs["hotkey"] = option.hotkey
    if option.color and child == "Label":
        attrs["background"] = option.color
    if option.description:
        attrs["hint"] = option.description
    return attrs
