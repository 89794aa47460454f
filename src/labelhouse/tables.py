"""Imports every table so ``Base.metadata`` is complete (for Alembic and tests)."""

from labelhouse.accounts import models as accounts_models
from labelhouse.annotations import models as annotations_models
from labelhouse.audit import models as audit_models
from labelhouse.comments import models as comments_models
from labelhouse.db.base import Base
from labelhouse.jobs import models as jobs_models
from labelhouse.models_loop import models as models_loop_models
from labelhouse.projects import models as projects_models
from labelhouse.quality_report import models as quality_report_models
from labelhouse.review import models as review_models
from labelhouse.rubrics import models as rubrics_models
from labelhouse.tasks import models as tasks_models

__all__ = [
    "Base",
    "accounts_models",
    "annotations_models",
    "audit_models",
    "comments_models",
    "jobs_models",
    "models_loop_models",
    "projects_models",
    "quality_report_models",
    "review_models",
    "rubrics_models",
    "tasks_models",
]
