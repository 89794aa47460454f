"""The consensus of every task of a project as columns, and their compact bytes.

Per field: the consensus value of each task as a code into the field's distinct values
(kept as JSON, decoded only for the tasks a caller reads), the confidence, and the method.
A page of 100 tasks out of 100,000 then costs a binary search and 100 small decodes,
whichever method produced the consensus.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from labelhouse.quality.data import FloatArray, IntArray
from labelhouse.quality_report.fields import FieldAnalysis

_DUMPS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True)
class FieldColumns:
    name: str
    codes: IntArray  # per task: index of its value, -1 without consensus
    confidence: FloatArray
    method_codes: IntArray  # per task: index into ``methods``
    methods: list[str]
    offsets: IntArray  # value i is blob[offsets[i]:offsets[i + 1]], JSON
    blob: bytes

    def entry(self, t: int) -> dict[str, Any] | None:
        code = int(self.codes[t])
        if code < 0:
            return None
        confidence = float(self.confidence[t])
        return {
            "value": orjson.loads(self.blob[int(self.offsets[code]) : int(self.offsets[code + 1])]),
            "confidence": confidence if math.isfinite(confidence) else None,
            "method": self.methods[int(self.method_codes[t])],
        }


@dataclass(frozen=True)
class ConsensusColumns:
    task_ids: IntArray  # sorted
    answers: IntArray  # submitted answers per task
    fields: list[FieldColumns]

    def fields_of(self, t: int) -> dict[str, dict[str, Any]]:
        """``{field: {value, confidence, method}}`` of the task with code ``t``."""
        out = {}
        for column in self.fields:
            entry = column.entry(t)
            if entry is not None:
                out[column.name] = entry
        return out

    def code_of(self, task_id: int) -> int | None:
        t = int(np.searchsorted(self.task_ids, task_id))
        return t if t < self.task_ids.size and int(self.task_ids[t]) == task_id else None


def from_analyses(
    task_ids: IntArray, answers: IntArray, analyses: list[FieldAnalysis]
) -> ConsensusColumns:
    return ConsensusColumns(
        task_ids=np.asarray(task_ids, dtype=np.int64),
        answers=np.asarray(answers, dtype=np.int64),
        fields=[_field(fa) for fa in analyses],
    )


def _field(fa: FieldAnalysis) -> FieldColumns:
    n = len(fa.consensus)
    codes = np.full(n, -1, dtype=np.int64)
    confidence = np.full(n, np.nan)
    method_codes = np.zeros(n, dtype=np.int64)
    seen: dict[bytes, int] = {}
    methods: dict[str, int] = {}
    for t, c in enumerate(fa.consensus):
        if c is None:
            continue
        text = orjson.dumps(c.value, option=_DUMPS)
        codes[t] = seen.setdefault(text, len(seen))
        confidence[t] = c.confidence
        method_codes[t] = methods.setdefault(c.method, len(methods))
    sizes = np.fromiter((len(text) for text in seen), dtype=np.int64, count=len(seen))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return FieldColumns(
        fa.name, codes, confidence, method_codes, list(methods), offsets, b"".join(seen)
    )


def to_bytes(columns: ConsensusColumns) -> bytes:
    """An uncompressed npz: loading it is a copy, not a decode."""
    arrays: dict[str, Any] = {"task_ids": columns.task_ids, "answers": columns.answers}
    meta = []
    for i, f in enumerate(columns.fields):
        meta.append({"name": f.name, "methods": f.methods})
        arrays[f"codes{i}"] = f.codes
        arrays[f"confidence{i}"] = f.confidence
        arrays[f"method_codes{i}"] = f.method_codes
        arrays[f"offsets{i}"] = f.offsets
        arrays[f"blob{i}"] = np.frombuffer(f.blob, dtype=np.uint8)
    arrays["meta"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def from_bytes(data: bytes) -> ConsensusColumns:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        meta = orjson.loads(z["meta"].tobytes())
        fields = [
            FieldColumns(
                name=m["name"],
                codes=z[f"codes{i}"],
                confidence=z[f"confidence{i}"],
                method_codes=z[f"method_codes{i}"],
                methods=list(m["methods"]),
                offsets=z[f"offsets{i}"],
                blob=z[f"blob{i}"].tobytes(),
            )
            for i, m in enumerate(meta)
        ]
        return ConsensusColumns(z["task_ids"], z["answers"], fields)
