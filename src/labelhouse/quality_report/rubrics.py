"""Agreement per criterion of every ``rubric`` field: a row per criterion in the quality
report, so a disagreement is traced to the criterion it comes from.

A rubric field's own row (``fields.py``) compares whole answers (mean closeness over the
criteria) and merges them criterion by criterion (weighted median). Here each criterion is
a scale of its own: Krippendorff's α ordinal and interval over its points, the percent of
annotator pairs giving the same point, the mean score normalised to 0–1, and how often it
fails (a score below its pass point). Scores given under the same rubric version are on the
same scales in every project, so these rows compare across projects and workforces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelhouse import quality
from labelhouse.kinds.registry import LabelSchema
from labelhouse.kinds.rubric import Criterion, RubricField
from labelhouse.quality_report.fields import finite
from labelhouse.quality_report.loading import Answers


@dataclass
class CriterionAgreement:
    field: str
    rubric_id: int
    rubric_version: int
    criterion: str
    title: str
    critical: bool
    scale: str  # "1-5", or "pass/fail"
    answers: int
    overlapping_tasks: int
    alpha_ordinal: float | None
    alpha_interval: float | None
    percent_agreement: float | None
    mean_score: float | None  # normalised to 0–1 on the criterion's scale
    fail_rate: float | None  # share of answers below the criterion's pass point


def rubric_criteria(schema: LabelSchema, answers: Answers) -> list[CriterionAgreement]:
    """One row per criterion of every rubric field of the schema."""
    rows: list[CriterionAgreement] = []
    for f in schema.fields:
        if not isinstance(f, RubricField):
            continue
        tasks: list[int] = []
        users: list[int] = []
        scored: list[dict[str, int]] = []
        for r, value in enumerate(answers.values):
            scores = f.scores_of(value.get(f.name))
            if scores is not None:
                tasks.append(int(answers.task_code[r]))
                users.append(int(answers.user_code[r]))
                scored.append(scores)
        items = np.asarray(tasks, dtype=np.int64)
        workers = np.asarray(users, dtype=np.int64)
        for c in f.criteria:
            points = np.asarray([s[c.name] for s in scored], dtype=np.int64)
            rows.append(_criterion(f, c, items, workers, points, answers))
    return rows


def _criterion(
    f: RubricField,
    c: Criterion,
    items: np.ndarray,
    workers: np.ndarray,
    points: np.ndarray,
    answers: Answers,
) -> CriterionAgreement:
    per_task = np.bincount(items, minlength=answers.n_tasks) if items.size else np.zeros(0)
    scale = list(range(c.min, c.max + 1))
    labels = quality.Labels.from_arrays(
        items,
        workers,
        points - c.min,
        n_items=answers.n_tasks,
        n_workers=answers.n_users,
        n_classes=len(scale),
    )
    alpha_ordinal = quality.krippendorff_alpha(labels, "ordinal", values=scale)
    alpha_interval = quality.krippendorff_alpha_interval(items, points, n_items=answers.n_tasks)
    return CriterionAgreement(
        field=f.name,
        rubric_id=f.rubric_id,
        rubric_version=f.version,
        criterion=c.name,
        title=c.title or c.name,
        critical=c.critical,
        scale="pass/fail" if c.scale == "pass_fail" else f"{c.min}-{c.max}",
        answers=int(points.size),
        overlapping_tasks=int((per_task > 1).sum()),
        alpha_ordinal=finite(alpha_ordinal),
        alpha_interval=finite(alpha_interval),
        percent_agreement=_same_pairs(items, points),
        mean_score=finite(float(((points - c.min) / (c.max - c.min)).mean()))
        if points.size
        else None,
        fail_rate=float((points < c.passing_point).mean()) if points.size else None,
    )


def _same_pairs(items: np.ndarray, points: np.ndarray) -> float | None:
    """Share of annotator pairs (on the same task) that gave the same point."""
    same = pairs = 0
    for t in np.unique(items):
        p = points[items == t]
        n = p.size
        if n < 2:
            continue
        counts = np.bincount(p)
        same += int((counts * (counts - 1) // 2).sum())
        pairs += n * (n - 1) // 2
    return same / pairs if pairs else None
