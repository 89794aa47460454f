"""How a Labelhouse field sits in a Label Studio config: its control tag, the object tags it
labels, and the task data keys built for it.

Pairwise and ranking fields read one list of responses (``kinds/_responses.py``); Label
Studio shows the two sides of a ``<Pairwise>`` as two ``<Text>`` objects and a ``<Ranker>``'s
items as a ``<List>`` of ``{id, title, body}``. The importer therefore *adds* a data key
``<field>_responses`` built from those objects (the original keys stay), and the writer adds
``<field>_a`` / ``<field>_b`` or ``<field>_items`` for Label Studio to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Labelhouse kind → (Label Studio control tag, the ``type`` of its results)
TAG_OF_KIND = {
    "choice": ("Choices", "choices"),
    "choices": ("Choices", "choices"),
    "spans": ("Labels", "labels"),
    "boxes": ("RectangleLabels", "rectanglelabels"),
    "rating": ("Rating", "rating"),
    "text": ("TextArea", "textarea"),
    # A rewritten reply goes out as its final text (Label Studio has no edit control; the
    # original stays in the task data, and it comes back as a text field).
    "edit": ("TextArea", "textarea"),
    "pairwise": ("Pairwise", "pairwise"),
    "ranking": ("Ranker", "ranker"),
}

_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def field_name(control_name: str) -> str:
    """A Label Studio control name as a Labelhouse field name (letters, digits, ``_``; not
    starting with a digit; at most 64 characters)."""
    name = _NOT_A_NAME.sub("_", control_name)[:64] or "field"
    return "_" + name[:63] if name[0].isdigit() else name


def responses_key(field: str) -> str:
    """The data key the importer builds for a pairwise or ranking field."""
    return f"{field}_responses"


@dataclass(frozen=True)
class Control:
    """Where one field's answers are in Label Studio results.

    ``name`` is the control's name (results' ``from_name``), ``to_name`` what results name as
    their object, ``sources`` the data keys of the objects (pairwise: the two sides; ranking:
    the list), ``image_key``/``text_key`` the object data a value is measured against."""

    name: str
    field: str
    kind: str
    result_type: str
    to_name: str
    sources: tuple[str, ...] = ()
    text_key: str | None = None
    image_key: str | None = None

    @property
    def derived_key(self) -> str | None:
        return responses_key(self.field) if self.kind in ("pairwise", "ranking") else None
