"""Label field kinds: the typed fields a project's label schema is made of.

Import from here; the per-kind modules are details. ``registry`` combines the kinds into
:class:`LabelSchema`, the only place that knows the full list.
"""

from labelhouse.kinds.base import FieldKind, Option, ValueProblem
from labelhouse.kinds.registry import KINDS, LabelSchema, parse_schema

__all__ = ["KINDS", "FieldKind", "LabelSchema", "Option", "ValueProblem", "parse_schema"]
