"""Label Studio results ↔ Labelhouse field values, one field kind at a time.

Conventions (docs/label-studio.md):

* **Boxes**: Label Studio stores ``x``, ``y``, ``width``, ``height`` in percent of the image
  (0–100) with the image's ``original_width``/``original_height`` beside them; Labelhouse
  stores pixels from the top-left corner. ``pixels = percent × size / 100``, rounded to
  1/100 px (the precision ``kinds/boxes.py`` keeps), and back ``percent = pixels × 100 /
  size`` unrounded, so a box survives the round trip. Rotated boxes have no Labelhouse
  equivalent and are dropped with a warning; a box with several labels becomes one box per
  label.
* **Spans**: Label Studio counts offsets in JavaScript string units (UTF-16 code units),
  Labelhouse in Python characters (code points); they differ after a character outside the
  Basic Multilingual Plane (most emoji). Offsets are converted both ways; a span whose
  quoted ``text`` only matches the unconverted offsets is read as code points.
* **Text areas** hold a list of submissions; Labelhouse keeps one text, the lines joined
  with a line break.
* **Pairwise**: ``left``/``right`` are ``A``/``B`` (the first and second side); Label Studio
  has no tie, so a Labelhouse tie is not written.
* **Ranker**: the item ids from best to worst ↔ one rank per response (1 = best).
"""

from __future__ import annotations

import bisect
from typing import Any

from labelhouse.interop.label_studio.controls import Control


class Skip(ValueError):
    """This result (or answer) cannot be carried over; the message says why."""


# -- text offsets ----------------------------------------------------------------------------


class Offsets:
    """Code-point ↔ UTF-16 offsets of one text (identity for texts inside the BMP)."""

    def __init__(self, text: str) -> None:
        self.text = text
        # most texts have no character outside the BMP: found at C speed, not per character
        bmp = text.isascii() or max(text, default="\0") <= "\uffff"
        self.wide = [] if bmp else [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]

    def to_index(self, unit: int) -> int:
        # each wide character before the index takes two units: walk them in order
        index = unit
        for n, position in enumerate(self.wide):
            if position + n >= unit:
                break
            index -= 1
        return index

    def to_units(self, index: int) -> int:
        return index + bisect.bisect_left(self.wide, index)


def span_of(value: dict[str, Any], offsets: Offsets | None) -> tuple[int, int]:
    start, end = value.get("start"), value.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        raise Skip("a span without whole-number start and end offsets")
    if offsets is None:
        return start, end
    s, e = offsets.to_index(start), offsets.to_index(end)
    quoted = value.get("text")
    text = offsets.text
    if isinstance(quoted, str) and text[s:e] != quoted and text[start:end] == quoted:
        return start, end
    return s, e


# -- Label Studio → Labelhouse ---------------------------------------------------------------


def read_result(control: Control, item: dict[str, Any], data: dict[str, Any], previous: Any) -> Any:
    """The field value after adding one result ``item`` to ``previous`` (``None`` at first)."""
    value = item.get("value")
    if not isinstance(value, dict):
        raise Skip("a result without a 'value' object")
    kind = control.kind
    if kind == "choice":
        choices = value.get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            raise Skip(f"a single choice holding {shown_count(choices)} choices")
        return choices[0]
    if kind == "choices":
        choices = value.get("choices")
        if not isinstance(choices, list):
            raise Skip("a multiple choice without a 'choices' list")
        return [*(previous or []), *choices]
    if kind == "rating":
        return value.get("rating")
    if kind == "text":
        lines = value.get("text")
        text = "\n".join(map(str, lines)) if isinstance(lines, list) else lines
        return text if previous is None else f"{previous}\n{text}"
    if kind == "spans":
        text = data.get(control.text_key or "")
        offsets = Offsets(text) if isinstance(text, str) else None
        start, end = span_of(value, offsets)
        labels = value.get("labels") or []
        return [*(previous or []), *({"start": start, "end": end, "label": x} for x in labels)]
    if kind == "boxes":
        return [*(previous or []), *_boxes(item, value, data, control)]
    if kind == "pairwise":
        side = {"left": "A", "right": "B"}.get(value.get("selected"))  # type: ignore[arg-type]
        if side is None:
            raise Skip(f"a pairwise choice of {value.get('selected')!r}, not left or right")
        return {"choice": side, "strength": None}
    if kind == "ranking":
        return _ranks(control, value, data)
    raise Skip(f"a result of an unknown kind {kind}")


def shown_count(choices: Any) -> str:
    return str(len(choices)) if isinstance(choices, list) else "no"


def _boxes(
    item: dict[str, Any], value: dict[str, Any], data: dict[str, Any], control: Control
) -> list[dict[str, Any]]:
    width = item.get("original_width") or data.get("image_width")
    height = item.get("original_height") or data.get("image_height")
    if not isinstance(width, int | float) or not isinstance(height, int | float):
        raise Skip("a box without the image's original_width and original_height")
    if abs(float(value.get("rotation") or 0)) > 1e-9:
        raise Skip(f"a box rotated by {value.get('rotation')}°, which Labelhouse cannot hold")
    try:
        x, y, w, h = (float(value[k]) for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        raise Skip("a box without numeric x, y, width and height") from None
    labels = value.get("rectanglelabels") or value.get("labels") or []
    if not labels:
        raise Skip("a box without a label")
    px = {
        "x": round(x * width / 100, 2),
        "y": round(y * height / 100, 2),
        "width": round(w * width / 100, 2),
        "height": round(h * height / 100, 2),
    }
    return [px | {"label": label} for label in labels]


def _ranks(control: Control, value: dict[str, Any], data: dict[str, Any]) -> list[int]:
    ranker = value.get("ranker")
    if not isinstance(ranker, dict):
        raise Skip("a ranking without a 'ranker' object")
    order = ranker.get(control.name)
    if order is None and len(ranker) == 1:
        order = next(iter(ranker.values()))
    if not isinstance(order, list):
        raise Skip("a ranking sorted into buckets, which Labelhouse cannot hold")
    responses = data.get(control.derived_key or "") or []
    ids = [str(r.get("id")) for r in responses if isinstance(r, dict)]
    order = [str(i) for i in order]
    missing = [i for i in ids if i not in order]
    if missing or len(order) != len(ids):
        raise Skip(f"a ranking that leaves out or adds items (e.g. {(missing or order)[0]!r})")
    return [order.index(i) + 1 for i in ids]


def item_text(item: Any) -> str:
    """A ``<List>`` item's text: its title and body (or its HTML when it has neither)."""
    if not isinstance(item, dict):
        return str(item)
    title, body = item.get("title") or "", item.get("body") or ""
    if title and body:
        return f"{title}\n\n{body}"
    return str(title or body or item.get("html") or "")


# -- Labelhouse → Label Studio ---------------------------------------------------------------


def write_results(control: Control, value: Any, data: dict[str, Any], prefix: str) -> list[Any]:
    """The result items of one field value (``prefix`` makes region ids unique and stable)."""
    base = {"from_name": control.name, "to_name": control.to_name, "type": control.result_type}
    kind = control.kind
    if kind == "choice":
        return [base | {"value": {"choices": [value]}}]
    if kind == "choices":
        return [base | {"value": {"choices": list(value)}}] if value else []
    if kind == "rating":
        return [base | {"value": {"rating": value}}]
    if kind == "text":
        return [base | {"value": {"text": [value]}}]
    if kind == "edit":
        final = value.get("text") if isinstance(value, dict) else value
        return [base | {"value": {"text": [final]}}] if isinstance(final, str) else []
    if kind == "pairwise":
        side = {"A": "left", "B": "right"}.get(str((value or {}).get("choice")))
        return [base | {"value": {"selected": side}}] if side else []  # a tie is not written
    if kind == "ranking":
        responses = data.get(control.derived_key or "") or []
        ids = [_item_id(r, i) for i, r in enumerate(responses)]
        ranked = sorted(range(len(value)), key=lambda i: (value[i], i))
        return [base | {"value": {"ranker": {control.name: [ids[i] for i in ranked]}}}]
    if kind == "spans":
        text = data.get(control.text_key or "")
        offsets = Offsets(text if isinstance(text, str) else "")
        out = []
        for i, span in enumerate(value):
            quoted = offsets.text[span["start"] : span["end"]]
            region = {
                "start": offsets.to_units(span["start"]),
                "end": offsets.to_units(span["end"]),
                "text": span.get("text", quoted),
                "labels": [span["label"]],
            }
            out.append({"id": f"{prefix}-{i}"} | base | {"value": region})
        return out
    if kind == "boxes":
        return _write_boxes(base, value, data, control, prefix)
    return []


def _item_id(response: Any, index: int) -> str:
    if isinstance(response, dict) and response.get("id") is not None:
        return str(response["id"])
    return str(index + 1)


def _write_boxes(
    base: dict[str, Any], value: Any, data: dict[str, Any], control: Control, prefix: str
) -> list[Any]:
    width, height = data.get("image_width"), data.get("image_height")
    if not width or not height:
        return []  # no size, no percent: the writer counts these (see writer.py)
    out = []
    for i, box in enumerate(value):
        region = {
            "x": round(box["x"] * 100 / width, 10),
            "y": round(box["y"] * 100 / height, 10),
            "width": round(box["width"] * 100 / width, 10),
            "height": round(box["height"] * 100 / height, 10),
            "rotation": 0,
            "rectanglelabels": [box["label"]],
        }
        out.append(
            {"id": f"{prefix}-{i}"}
            | base
            | {"original_width": width, "original_height": height, "image_rotation": 0}
            | {"value": region}
        )
    return out
