"""Where each exported training example came from: one ``provenance`` object per row.

Any format can use it: declare :data:`OPTIONS`, read them with :func:`parse`, build a
:class:`Provenance` once per export and call :meth:`Provenance.of` per row. Levels:

- ``none``: no provenance;
- ``basic`` (default): ``annotator`` (a pseudonym, below), ``schema_version``,
  ``review_status``, ``consensus_method`` and ``confidence`` (per field), ``pre_annotated``
  (the task had a model prediction, the one the annotate page pre-fills: highest score,
  first of equals) and ``kept`` (per field: the answer equals that prediction's value;
  null for fields the prediction leaves empty, and all null without a prediction) — the
  rule of :mod:`labelhouse.tasks.prefill`, which the quality page's acceptance report shares;
- ``full``: also ``annotation_id``, ``workforce_id`` (the workforce the task was served
  through), ``lead_time_ms``, ``created_at``, ``updated_at``, ``model_version``.

Annotators are pseudonymous per export: a keyed hash (HMAC-SHA-256) of the user id with a
random salt drawn for the export, so one person has one pseudonym inside an export and
unlinkable ones across exports. ``annotators=ids`` writes the real user ids instead (the
export's audit event records the options, so that choice is on record).

"Pre-annotated" is computed from the task's predictions at export time: a prediction
imported after an answer still counts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from labelhouse.exports.formats import options as opts
from labelhouse.exports.formats.options import OptionHelp
from labelhouse.exports.formats.values import Answer
from labelhouse.tasks.prefill import KEPT, field_outcome, shown_prediction

LEVELS = ("basic", "none", "full")
ANNOTATORS = ("pseudonyms", "ids")
OPTIONS = (
    OptionHelp(
        "provenance",
        "per row: who answered (pseudonymous), schema version, review status, consensus "
        "method and confidence, pre-annotation kept; full adds ids, times and workforce",
        LEVELS,
    ),
    OptionHelp(
        "annotators",
        "pseudonyms (a keyed hash, new per export) or the real user ids (recorded in the "
        "audit log)",
        ANNOTATORS,
    ),
)
BASIC = (
    "annotator",
    "schema_version",
    "review_status",
    "consensus_method",
    "confidence",
    "pre_annotated",
    "kept",
)
FULL = (
    "annotation_id",
    "workforce_id",
    "lead_time_ms",
    "created_at",
    "updated_at",
    "model_version",
)


def parse(options: Mapping[str, str]) -> dict[str, str]:
    """The provenance options, checked, as the writer gets them."""
    return {
        "provenance": opts.choice(options, "provenance", LEVELS),
        "annotators": opts.choice(options, "annotators", ANNOTATORS),
    }


def _kept(name: str, predicted: Mapping[str, Any], value: Mapping[str, Any]) -> bool | None:
    """``kept`` of one field: the shared pre-fill rule (``tasks/prefill.py``), as a bool."""
    outcome = field_outcome(name, predicted, value)
    return None if outcome is None else outcome == KEPT


# Not an option a person gives: a snapshot's plan sets it (from a key stored with the
# snapshot, never shown) so that rebuilding the snapshot gives the same pseudonyms.
PSEUDONYM_SALT = "pseudonym_salt"


class Provenance:
    """The provenance of one export's rows. ``salt`` fixes the pseudonyms (e.g. for a
    snapshot rebuilt later); by default each export draws its own."""

    def __init__(
        self,
        field_names: list[str],
        *,
        level: str = "basic",
        annotators: str = "pseudonyms",
        salt: bytes | None = None,
    ) -> None:
        self.field_names = field_names
        self.level = level
        self.real_ids = annotators == "ids"
        self._key = salt if salt is not None else secrets.token_bytes(16)
        self._names: dict[int, str] = {}
        self._last: tuple[Mapping[str, Any], tuple[Any, ...]] | None = None

    @classmethod
    def from_options(cls, field_names: list[str], options: Mapping[str, Any]) -> Provenance:
        return cls(
            field_names,
            level=options.get("provenance", "basic"),
            annotators=options.get("annotators", "pseudonyms"),
            salt=options.get(PSEUDONYM_SALT),
        )

    @property
    def enabled(self) -> bool:
        return self.level != "none"

    @property
    def keys(self) -> tuple[str, ...]:
        return BASIC + FULL if self.level == "full" else BASIC

    def annotator(self, user_id: int | None) -> str | None:
        """The pseudonym (or, with ``annotators=ids``, the id as text) of a user."""
        if user_id is None:
            return None
        if self.real_ids:
            return str(user_id)
        name = self._names.get(user_id)
        if name is None:
            digest = hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()
            name = self._names[user_id] = "a-" + digest[:16]
        return name

    def of(self, record: Mapping[str, Any], answer: Answer) -> dict[str, Any] | None:
        """The provenance object of one row (None with ``provenance=none``)."""
        if not self.enabled:
            return None
        a = answer.annotation
        prediction, predicted, task_version, task_review = self._task(record)
        if a is not None:
            version, review_status = a.get("schema_version"), a.get("review_status")
        else:
            version, review_status = task_version, task_review
        out: dict[str, Any] = {
            "annotator": self.annotator(a.get("annotator_id")) if a else None,
            "schema_version": version,
            "review_status": review_status,
            "consensus_method": answer.method if a is None else None,
            "confidence": (
                {name: answer.confidence.get(name) for name in self.field_names}
                if answer.confidence
                else None
            ),
            "pre_annotated": prediction is not None,
            "kept": (
                {name: _kept(name, predicted, answer.value) for name in self.field_names}
                if prediction is not None
                else None
            ),
        }
        if self.level == "full":
            a = a or {}
            out |= {
                "annotation_id": a.get("id"),
                "workforce_id": a.get("workforce_id"),
                "lead_time_ms": a.get("lead_time_ms"),
                "created_at": a.get("created_at"),
                "updated_at": a.get("updated_at"),
                "model_version": prediction.get("model_version") if prediction else None,
            }
        return out

    def _task(self, record: Mapping[str, Any]) -> tuple[Any, dict[str, Any], Any, Any]:
        """What every answer of a task shares (computed once per task, not per answer):
        the pre-filled prediction and its value, the latest schema version of the task's
        answers and the task's review decision."""
        if self._last is not None and self._last[0] is record:
            return self._last[1]
        prediction = shown_prediction(record.get("predictions"))
        versions = [x.get("schema_version") or 0 for x in record.get("annotations") or ()]
        review = record.get("review")
        shared = (
            prediction,
            (prediction or {}).get("value") or {},
            max(versions) if versions else None,
            review.get("decision") if review else None,
        )
        self._last = (record, shared)
        return shared

    # -- typed columns (Parquet, Hugging Face) ------------------------------------------------
    def arrow_type(self) -> Any:
        """The ``provenance`` column's Arrow struct type."""
        import pyarrow as pa

        per_field = pa.struct([(name, pa.float64()) for name in self.field_names])
        kept = pa.struct([(name, pa.bool_()) for name in self.field_names])
        types = {
            "annotator": pa.string(),
            "schema_version": pa.int64(),
            "review_status": pa.string(),
            "consensus_method": pa.string(),
            "confidence": per_field,
            "pre_annotated": pa.bool_(),
            "kept": kept,
            "annotation_id": pa.int64(),
            "workforce_id": pa.int64(),
            "lead_time_ms": pa.int64(),
            "created_at": pa.string(),
            "updated_at": pa.string(),
            "model_version": pa.string(),
        }
        return pa.struct([(key, types[key]) for key in self.keys])

    def hf_feature(self) -> Any:
        """The ``provenance`` column as a ``datasets`` feature (a dict of Values)."""
        from datasets import Value

        types = {
            "annotator": Value("string"),
            "schema_version": Value("int64"),
            "review_status": Value("string"),
            "consensus_method": Value("string"),
            "confidence": {name: Value("float64") for name in self.field_names},
            "pre_annotated": Value("bool"),
            "kept": {name: Value("bool") for name in self.field_names},
            "annotation_id": Value("int64"),
            "workforce_id": Value("int64"),
            "lead_time_ms": Value("int64"),
            "created_at": Value("string"),
            "updated_at": Value("string"),
            "model_version": Value("string"),
        }
        return {key: types[key] for key in self.keys}
