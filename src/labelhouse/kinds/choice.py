"""Single choice: the annotator picks exactly one option (classification, yes/no, …).

The stored value is the option's stable ``value`` string, never its display label, so
relabelling an option in the UI does not change past annotations.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from labelhouse.kinds._common import Options, ReadsData, pick_option


class ChoiceField(ReadsData):
    kind: Literal["choice"] = "choice"
    kind_name: ClassVar[str] = "choice"

    options: Options

    def validate_value(self, value: Any, data: dict[str, Any]) -> str:
        return pick_option(value, self.options, "")
