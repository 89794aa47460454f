"""Undo an import: take its tasks out of the project again, as long as nobody has worked on
them.

A task that was ever handed out (it has an assignment: a lease, a skip, a submission), or has
an annotation, stays: removing it would destroy work or history. Everything else made by the
import goes, with its predictions, and its keys are free again, so the corrected file can be
imported next. The deciding statement also tests the task row's own counters (``taken``,
``done``): a claim that leases the task meanwhile updates that row, and PostgreSQL re-checks
the condition on the updated row before deleting it, so a task cannot vanish under a lease
that was just granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from labelhouse.accounts.models import Role
from labelhouse.accounts.policy import Actor
from labelhouse.audit import service as audit
from labelhouse.db.base import utcnow
from labelhouse.errors import Conflict, NotFound
from labelhouse.projects.service import get_project
from labelhouse.tasks.models import Task, TaskImport
from labelhouse.tasks.visibility import DONE


@dataclass(frozen=True)
class UndoResult:
    import_id: int
    removed: int  # tasks taken out now
    kept: int  # tasks of the import that stay, because someone worked on them

    def as_dict(self) -> dict[str, int]:
        return {"import_id": self.import_id, "removed": self.removed, "kept": self.kept}


# Plain SQL, the same on both databases; the annotation table is named rather than imported
# (the annotations package sits above this one).
_REMOVE_UNTOUCHED = text(
    """
    DELETE FROM task
    WHERE project_id = :pid AND import_id = :iid AND taken = 0 AND done = 0
      AND NOT EXISTS (SELECT 1 FROM assignment a WHERE a.task_id = task.id)
      AND NOT EXISTS (SELECT 1 FROM annotation n WHERE n.task_id = task.id)
    """
)


def get_import(session: Session, actor: Actor, project_id: int, import_id: int) -> TaskImport:
    """An import record of a project the actor may see (404 otherwise, like any object)."""
    project = get_project(session, actor, project_id)
    record = session.get(TaskImport, import_id)
    if record is None or record.project_id != project.id:
        raise NotFound(
            f"Import {import_id} does not exist in this project. Its imports are listed on the "
            "project's import page, by GET /api/projects/{id}/imports and by "
            "`labelhouse imports list PROJECT`."
        )
    if record.state != DONE:
        raise Conflict(
            f"Import {import_id} has not finished: it is still running, or it stopped and "
            "the next import into this project clears it away. There is nothing to undo."
        )
    return record


def undo_import(session: Session, actor: Actor, project_id: int, import_id: int) -> UndoResult:
    """Remove the import's tasks that nobody has worked on; managers only. Safe to repeat:
    a second run removes what has become untouched since (nothing, usually)."""
    actor = actor.in_project(project_id)
    actor.require(Role.manager, "remove imported tasks")
    record = get_import(session, actor, project_id, import_id)
    removed = session.execute(_REMOVE_UNTOUCHED, {"pid": project_id, "iid": import_id}).rowcount
    kept = session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.project_id == project_id, Task.import_id == import_id)
    )
    record.removed += removed
    record.removed_at = utcnow()
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor_id=actor.user_id,
        action="tasks.import_undo",
        object_type="project",
        object_id=project_id,
        details={"import_id": import_id, "removed": removed, "kept": kept or 0},
    )
    return UndoResult(import_id, removed, kept or 0)
