"""Checking imported rows: one decoded row becomes a task to store, or a list of problems.

The project's schema decides which keys a task must have; media references must name files
uploaded to the project (their image size is filled in); rows may carry predictions and a
gold value, each validated like an annotation. Each row's data is encoded to JSON once,
here, and that text is what the bulk writer stores.

A row is *structured* (``{"data": {...}, "external_id": ..., "predictions": [...], "gold":
{...}}``) or *flat* (the task's data keys at the top level). The reserved keys mean the same
in both: ``external_id``, ``predictions`` and ``gold`` at the top of a flat row are never
task data (they were once silently stored as such), and ``data`` at the top of a row is
always the structured form's object. A schema that reads a key with one of those names gets
it from the structured form. docs/import.md is the user's account of this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelhouse.errors import InvalidInput
from labelhouse.kinds._common import ReadsData
from labelhouse.kinds.base import FieldKind
from labelhouse.kinds.conversation import conversation_problems
from labelhouse.kinds.registry import LabelSchema
from labelhouse.media.refs import is_url
from labelhouse.projects.models import Project
from labelhouse.storable import ENCODED_NUL, NUL, encoded_json_has_nul, find_nul
from labelhouse.storable import PROBLEM as NUL_PROBLEM
from labelhouse.tasks.models import StoredFile
from labelhouse.tasks.queue_order import check_priority, check_scores
from labelhouse.tasks.remote_media import RemoteSizes

if TYPE_CHECKING:
    from labelhouse.media.sources import MediaSources

MAX_TASK_BYTES = 1024 * 1024
# ``priority`` only in the structured form: in a flat row it always was task data.
STRUCTURED_KEYS = {"data", "external_id", "predictions", "gold", "priority"}
# What each reserved key is, for the sentence that refuses a flat row's use of it.
RESERVED_MEANING = {
    "external_id": "the task's id",
    "predictions": "the task's predictions",
    "gold": "the task's expected answer",
}
DATA_NOT_AN_OBJECT = (
    "'data' must be an object holding the task's data, as in "
    '{"data": {"text": "…"}, "external_id": "…", "predictions": […], "gold": {…}}; '
    "a task key named 'data' goes inside it"
)


@dataclass(slots=True)
class Prepared:
    dedup_key: str
    external_id: str | None
    data: dict[str, Any]
    encoded: bytes  # ``data`` as stored (orjson), for the bulk path
    predictions: list[dict[str, Any]]
    gold: dict[str, Any] | None = None
    # Rows with predictions, gold or a priority take the slower path (``importer.write_runs``).
    needs_orm: bool = False
    priority: int = 0  # the queue's priority order (tasks/queue_order.py)


# What a field checks of each task, compiled once per import (:func:`compile_data_checks`):
# the field's name, the keys that must be present, the keys a conversation may be in; or,
# for a kind with checks of its own, its ``check_data``.
DataCheck = tuple[str, tuple[str, ...], tuple[str, ...]] | Callable[[dict[str, Any]], list[str]]


def compile_data_checks(schema: LabelSchema) -> list[DataCheck]:
    """``schema.check_task_data`` as a plan the importer runs inline for every row: the
    common checks (a key present and not null; a conversation valid) of most kinds become
    data, so a row of plain strings costs a few dict lookups instead of three method calls
    per field. A kind that overrides ``check_data`` keeps its own method. The problems, and
    their order, are those of ``check_task_data``."""
    plan: list[DataCheck] = []
    for f in schema.fields:
        own = type(f).check_data
        if own is FieldKind.check_data:
            plan.append((f.name, tuple(f.data_keys()), ()))
        elif own is ReadsData.check_data:
            plan.append((f.name, tuple(f.data_keys()), tuple(f.reads)))  # type: ignore[attr-defined]
        else:
            plan.append(f.check_data)
    return plan


def run_data_checks(plan: list[DataCheck], data: dict[str, Any], problems: list[str]) -> None:
    """Append the problems of ``data`` under ``plan`` (see :func:`compile_data_checks`)."""
    for step in plan:
        if type(step) is not tuple:
            problems.extend(step(data))  # type: ignore[operator]
            continue
        name, required, chats = step
        for key in required:
            if data.get(key) is None:  # missing, or null
                problems.append(f"missing key '{key}' (read by field '{name}')")
        for key in chats:
            # Only a non-empty list can be a conversation (``looks_like_conversation``).
            value = data.get(key)
            if type(value) is not str and value is not None:
                problems.extend(conversation_problems(data, key))


def _reserved_at_the_top(key: str) -> str:
    return (
        f"at the top level of a row '{key}' is {RESERVED_MEANING[key]}; put the task's data "
        f'under "data" to have a task key named \'{key}\': {{"data": {{"{key}": …}}}}'
    )


class RowChecker:
    """Turns one decoded row into a task (or a list of problems), per the project's schema."""

    def __init__(
        self,
        session: Session,
        project: Project,
        schema: LabelSchema,
        media: MediaSources | None = None,
    ) -> None:
        self.schema = schema
        self.data_checks = compile_data_checks(schema)
        self.media_keys = {k for f in schema.fields for k in f.media_keys()}
        # Media by URL (``media``: the server's configuration; None: public https only).
        self.remote = RemoteSizes(media, self.media_keys)
        # Data keys this schema reads that a flat row cannot hold (sorted: stable messages)
        self.reserved_reads = sorted(schema.data_keys() & RESERVED_MEANING.keys())
        self.files: dict[str, tuple[int | None, int | None]] = {}
        if self.media_keys:
            rows = session.execute(
                select(StoredFile.name, StoredFile.width, StoredFile.height).where(
                    StoredFile.project_id == project.id
                )
            )
            self.files = {name: (w, h) for name, w, h in rows}

    def check(self, row: Any) -> Prepared | list[str]:
        if not isinstance(row, dict):
            return [f"expected a JSON object per task, got {type(row).__name__}"]
        external_id: Any
        problems: list[str] = []
        priority = 0
        flat = "data" not in row
        if not flat:
            if not isinstance(row["data"], dict):
                return [DATA_NOT_AN_OBJECT]
            unknown = set(row) - STRUCTURED_KEYS
            if unknown:
                return [
                    f"unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}; "
                    f"a task object may have: {', '.join(sorted(STRUCTURED_KEYS))}"
                ]
            data = row["data"]
            external_id = row.get("external_id")
            raw_predictions = row.get("predictions") or []
            raw_gold = row.get("gold")
            raw_priority = row.get("priority")
            if raw_priority is not None:
                try:
                    priority = check_priority(raw_priority)
                except InvalidInput as exc:
                    problems.append(f"priority {exc.details[0].problem}")
        else:
            data = dict(row)
            external_id = data.pop("external_id", None)
            if "predictions" in data or "gold" in data:
                raw_predictions = data.pop("predictions", None) or []
                raw_gold = data.pop("gold", None)
            else:
                raw_predictions, raw_gold = [], None
            if self.reserved_reads:
                problems.extend(
                    f"'{key}' is task data this project's schema reads, but "
                    + _reserved_at_the_top(key)
                    for key in self.reserved_reads
                    if key in row
                )
        if external_id is not None:
            if isinstance(external_id, bool) or not isinstance(external_id, str | int):
                problems.append("external_id must be a string or an integer")
            else:
                external_id = str(external_id)
                if not 1 <= len(external_id) <= 200:
                    problems.append("external_id must be 1 to 200 characters")
                elif NUL in external_id:
                    problems.append(f"external_id {NUL_PROBLEM}")
        # One encoding serves the size check and storage when no hash is needed and media
        # lookups cannot add keys; otherwise the canonical form (sorted keys, before media
        # sizes are filled in) is what is measured and hashed, as it always was.
        canonical = stored = None
        if external_id is None or self.media_keys:
            canonical = orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
            encoded = canonical
        else:
            encoded = stored = orjson.dumps(data)
        # The NUL test runs on the encoded text (a C substring search; its regular expression
        # and the walk that names the key only once one is found).
        if len(encoded) > MAX_TASK_BYTES:
            problems.append(f"task data is larger than {MAX_TASK_BYTES // 1024} KB")
        elif ENCODED_NUL in encoded and encoded_json_has_nul(encoded):
            problems.append(f"'{find_nul(data)}' {NUL_PROBLEM}")
        # Empty predictions and absent gold hold no string: nothing to walk.
        if raw_predictions:
            where = find_nul(raw_predictions, "predictions")
            if where is not None:
                problems.append(f"{where} {NUL_PROBLEM}")
        if raw_gold is not None:
            where = find_nul(raw_gold, "gold")
            if where is not None:
                problems.append(f"{where} {NUL_PROBLEM}")
        run_data_checks(self.data_checks, data, problems)
        for key in self.media_keys:
            ref = data.get(key)
            if isinstance(ref, str) and ref:
                problems.extend(self._resolve_media(key, ref, data))
        predictions: list[dict[str, Any]] = []
        if raw_predictions:
            checked = len(problems)
            if not isinstance(raw_predictions, list):
                problems.append("predictions must be a list")
            else:
                for i, p in enumerate(raw_predictions):
                    result = self._prediction(p, data)
                    if isinstance(result, str):
                        problems.append(f"predictions[{i}]: {result}")
                    else:
                        predictions.append(result)
            if flat and len(problems) > checked:
                problems.append("A" + _reserved_at_the_top("predictions")[1:])
        gold = None
        if raw_gold is not None:
            from labelhouse.tasks.gold import validate_gold  # only gold rows need its imports

            try:
                gold = validate_gold(self.schema, raw_gold, data)
            except InvalidInput as exc:
                problems.extend(
                    f"gold: {d.field}: {d.problem}" if d.field != "value" else f"gold: {d.problem}"
                    for d in exc.details
                )
                if flat:
                    problems.append("A" + _reserved_at_the_top("gold")[1:])
        if problems:
            return problems
        if external_id is not None:
            dedup = f"x:{external_id}"
        else:
            dedup = "h:" + hashlib.sha256(canonical).hexdigest()[:48]  # type: ignore[arg-type]
        if stored is None:
            stored = orjson.dumps(data)
        return Prepared(
            dedup,
            external_id,
            data,
            stored,
            predictions,
            gold,
            bool(predictions) or gold is not None or priority != 0,
            priority,
        )

    def prefetch(self, rows: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """The rows to check, with the image sizes of media URLs read a few rows ahead
        (the rows themselves when the schema reads no media: no generator in between)."""
        if not self.media_keys:
            return iter(rows)
        return self.remote.prefetch(rows)

    def _resolve_media(self, key: str, ref: str, data: dict[str, Any]) -> list[str]:
        if is_url(ref):
            return self.remote.resolve(key, ref, data)
        if ref not in self.files:
            return [
                f"'{key}' refers to '{ref}', which is not uploaded to this project; "
                "upload it first (POST /api/projects/{id}/files or `labelhouse import --files DIR`)"
            ]
        width, height = self.files[ref]
        if width and height:
            data.setdefault("image_width", width)
            data.setdefault("image_height", height)
        return []

    def _prediction(self, p: Any, data: dict[str, Any]) -> dict[str, Any] | str:
        if not isinstance(p, dict) or not isinstance(p.get("value"), dict):
            return 'expected {"value": {field: value}, "model_version": str, "score": number}'
        unknown = set(p) - {"value", "model_version", "score", "scores"}
        if unknown:
            return f"unknown key(s) {', '.join(sorted(unknown))}"
        scores = None
        if p.get("scores") is not None:
            scores = check_scores(p["scores"], (f.name for f in self.schema.fields))
            if isinstance(scores, str):
                return scores
        score = p.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            return "score must be a number"
        model_version = p.get("model_version") or ""
        if not isinstance(model_version, str) or len(model_version) > 200:
            return "model_version must be a string of at most 200 characters"
        try:
            value = self.schema.validate_annotation(p["value"], data, draft=True)
        except InvalidInput as exc:
            return "; ".join(f"{d.field}: {d.problem}" for d in exc.details)
        return {"value": value, "model_version": model_version, "score": score, "scores": scores}
