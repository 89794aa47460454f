"""The reasons a project offers for skipping a task, and the rules for a skip's reason.

Why people skip tells a manager what to fix: unclear instructions, broken media, work they
cannot judge. A project lists its reasons in its settings (``project.skip_reasons``; None
means :data:`DEFAULT_SKIP_REASONS`). The annotate page offers them with a free-text note;
a reason ending in :data:`WRITE_IT` ("Other (write it)") asks for the note. API clients
may send any reason text (it was free text before there was a list).
"""

from __future__ import annotations

from typing import Any

from labelhouse.errors import InvalidInput, Problem

DEFAULT_SKIP_REASONS = (
    "Unclear instructions",
    "Content I cannot judge",
    "Broken media/data",
    "Other (write it)",
)
WRITE_IT = "(write it)"
MAX_REASONS = 12
MAX_REASON_LENGTH = 100
MAX_NOTE_LENGTH = 2000


def skip_reasons_of(project: Any) -> list[str]:
    """The reasons the project offers (its own list, else the defaults)."""
    stored = getattr(project, "skip_reasons", None)
    return list(DEFAULT_SKIP_REASONS if stored is None else stored)


def check_skip_reasons(value: Any) -> list[str]:
    """A project's list of reasons, cleaned (trimmed), or InvalidInput naming the problem."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            "Skip reasons must be a list of texts.",
            [Problem("skip_reasons", 'expected a list like ["Unclear instructions", …]')],
        )
    reasons = [v.strip() for v in value if v.strip()]
    problems = []
    if len(reasons) > MAX_REASONS:
        problems.append(
            Problem("skip_reasons", f"at most {MAX_REASONS} reasons, got {len(reasons)}")
        )
    problems += [
        Problem(
            "skip_reasons",
            f"'{r[:40]}…' is longer than {MAX_REASON_LENGTH} characters; shorten it",
        )
        for r in reasons
        if len(r) > MAX_REASON_LENGTH
    ]
    seen: set[str] = set()
    for r in reasons:
        if r.casefold() in seen:
            problems.append(Problem("skip_reasons", f"'{r}' is listed twice"))
        seen.add(r.casefold())
    if problems:
        raise InvalidInput("These skip reasons cannot be saved.", problems)
    return reasons


def needs_note(reason: str | None) -> bool:
    """Whether a reason asks the annotator to write why ("Other (write it)")."""
    return reason is not None and reason.strip().casefold().endswith(WRITE_IT)


def clean_skip(reason: str | None, note: str | None) -> tuple[str | None, str | None]:
    """A skip's reason and note as stored (trimmed, empty = none); InvalidInput when the
    reason asks for a note and none was written."""
    reason = (reason or "").strip()[:MAX_NOTE_LENGTH] or None
    note = (note or "").strip()[:MAX_NOTE_LENGTH] or None
    if needs_note(reason) and note is None:
        raise InvalidInput(
            f"The reason '{reason}' needs a few words: write why you skip this task.",
            [Problem("note", "write why you skip this task")],
        )
    return reason, note
