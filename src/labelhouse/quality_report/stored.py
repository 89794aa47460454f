"""The stored analysis: finding it, telling whether it is still fresh, and replacing it.

Fresh means computed from exactly the answers the project has now. The watermark is read
from the database on every use (no process-local cache decides), from an index-only query:
per review status, the number of submitted answers, the sum of their revisions and the
last id. A new answer raises the count and the last id, a changed answer its revision, a
review moves answers between statuses, a deleted task lowers the count; the project's
schema version and its gold values are part of it too (the gold-weighted vote reads gold,
and every method's confidence is calibrated on gold once a field has enough of it), and so
are the count and last id of its predictions (the acceptance of pre-filled answers).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from labelhouse.annotations.models import Annotation
from labelhouse.db.base import utcnow
from labelhouse.db.engine import Database
from labelhouse.errors import Busy
from labelhouse.quality_report.loading import REJECTED, SUBMITTED, load_gold
from labelhouse.quality_report.models import AnalysisResult
from labelhouse.tasks.models import Prediction

log = logging.getLogger("labelhouse.quality")

# Bump when what a stored analysis holds, or how it is computed, changes: older rows are
# then never read (their key differs) and are replaced on the next computation.
# 2: accelerated DS, lone answers kept, calibrated confidence; 3: the acceptance section
ANALYSIS_VERSION = 3


@dataclass(frozen=True)
class Watermark:
    answers: int  # submitted answers that count (not rejected)
    text: str  # digest of everything the analysis depends on


@dataclass
class Freshness:
    """How old the analysis shown is, and whether answers changed since."""

    computed_at: datetime
    age_seconds: float
    fresh: bool
    new_answers: int  # answers counted now minus then (0 when answers only changed)
    compute_ms: int
    recomputing: bool = False  # a background recomputation is queued or running


def key_of(method: str) -> str:
    return f"{method}/v{ANALYSIS_VERSION}"


def options_of(method: str) -> str:
    return orjson.dumps({"method": method, "version": ANALYSIS_VERSION}).decode()


def watermark(session: Session, project_id: int, schema_version: int, method: str) -> Watermark:
    rows = session.execute(
        select(
            Annotation.review_status,
            func.count(),
            func.coalesce(func.sum(Annotation.revision), 0),
            func.max(Annotation.id),
        )
        .where(Annotation.project_id == project_id, Annotation.status == SUBMITTED)
        .group_by(Annotation.review_status)
    ).all()
    parts = sorted(([r or "", int(n), int(revs), int(last)] for r, n, revs, last in rows))
    counted = sum(n for status, n, _, _ in parts if status != REJECTED)
    doc: dict[str, object] = {"answers": parts, "schema": schema_version}
    # Gold weighs the gold-weighted vote and calibrates every method's confidence.
    doc["gold"] = sorted(load_gold(session, project_id).items())
    doc["predictions"] = prediction_mark(session, project_id)  # the acceptance section
    digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Watermark(counted, digest)


def prediction_mark(session: Session, project_id: int) -> list[int]:
    """Count and last id of the project's predictions: predictions are only inserted and
    deleted (a model asked again replaces its answer: a new id), so these two change with
    every change. Index-only on ``ix_prediction_project (project_id, id)``."""
    n, last = session.execute(
        select(func.count(Prediction.id), func.coalesce(func.max(Prediction.id), 0)).where(
            Prediction.project_id == project_id
        )
    ).one()
    return [int(n), int(last)]


def find(session: Session, project_id: int, method: str) -> AnalysisResult | None:
    """The stored row without its payloads (they are loaded on first access)."""
    return session.scalars(
        select(AnalysisResult).where(
            AnalysisResult.project_id == project_id, AnalysisResult.key == key_of(method)
        )
    ).one_or_none()


def payload(session: Session, row_id: int, part: str) -> bytes | None:
    """``part``: "consensus", else the report (which holds the acceptance section)."""
    column = AnalysisResult.consensus if part == "consensus" else AnalysisResult.report
    return session.scalar(select(column).where(AnalysisResult.id == row_id))


def freshness(row: AnalysisResult, mark: Watermark, now: datetime | None = None) -> Freshness:
    now = now or utcnow()
    computed_at = row.computed_at
    if computed_at.tzinfo is None:
        computed_at = computed_at.replace(tzinfo=UTC)
    return Freshness(
        computed_at=computed_at,
        age_seconds=max(0.0, (now - computed_at).total_seconds()),
        fresh=row.watermark == mark.text,
        new_answers=max(0, mark.answers - row.answers),
        compute_ms=row.compute_ms,
    )


def save(
    session: Session,
    project_id: int,
    method: str,
    mark: Watermark,
    *,
    report: bytes,
    consensus: bytes,
    compute_ms: int,
    computed_at: datetime,
) -> None:
    """Replace the stored analysis (the caller commits). A row computed from later answers
    is never replaced by one computed earlier: the newer ``computed_at`` wins."""
    values = {
        "options": options_of(method),
        "watermark": mark.text,
        "answers": mark.answers,
        "computed_at": computed_at,
        "compute_ms": compute_ms,
        "report": report,
        "consensus": consensus,
    }
    key = key_of(method)
    changed = session.execute(
        update(AnalysisResult)
        .where(
            AnalysisResult.project_id == project_id,
            AnalysisResult.key == key,
            AnalysisResult.computed_at <= computed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        return
    exists = session.scalar(
        select(AnalysisResult.id).where(
            AnalysisResult.project_id == project_id, AnalysisResult.key == key
        )
    )
    if exists is None:
        session.add(AnalysisResult(project_id=project_id, key=key, **values))
        session.flush()


def store(db: Database, project_id: int, method: str, mark: Watermark, **payloads: object) -> bool:
    """Save in a transaction of its own; another server saving the same key at the same
    moment is not an error (either result is valid for its watermark), and a database that
    cannot take the write now only means the next reader computes it again."""
    try:
        with db.session() as s:
            save(s, project_id, method, mark, **payloads)  # type: ignore[arg-type]
        return True
    except IntegrityError:
        log.info("analysis of project %s (%s) was stored by another process", project_id, method)
        return False
    except (Busy, SQLAlchemyError):  # e.g. busy or read-only: the reader still gets it
        log.warning("analysis of project %s (%s) not stored", project_id, method, exc_info=True)
        return False


def forget(session: Session, project_id: int) -> None:
    """Drop a project's stored analyses (e.g. tests, or a manual reset)."""
    session.execute(delete(AnalysisResult).where(AnalysisResult.project_id == project_id))
