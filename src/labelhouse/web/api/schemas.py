"""Request bodies of the JSON API (Pydantic models; unknown fields are rejected)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from labelhouse.accounts.models import Role
from labelhouse.projects.models import DEFAULT_LEASE_SECONDS
from labelhouse.storable import PROBLEM as NUL_PROBLEM
from labelhouse.storable import find_nul
from labelhouse.web.params import ID_MAX


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        where = find_nul(data)
        if where is not None:
            raise ValueError(f"{where or 'body'} {NUL_PROBLEM}")
        return data


class LoginIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    organization_id: int | None = Field(default=None, ge=1, le=ID_MAX)


class PasswordChangeIn(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="the token stops working after this many days"
    )
    read_only: bool = Field(default=False, description="the token may only read (GET)")


class InviteIn(Body):
    email: str = Field(max_length=320)
    role: Role = Role.annotator


class AcceptInviteIn(Body):
    token: str = Field(max_length=200)
    password: str = Field(default="", max_length=1024, description="for a new account")
    name: str = Field(default="", max_length=200)


class RoleIn(Body):
    role: Role


class ProjectIn(Body):
    name: str = Field(min_length=1, max_length=200)
    label_schema: Any = Field(alias="schema", description="The label schema: {fields: [...]}")
    description: str = Field(default="", max_length=100_000)
    instructions: str = Field(default="", max_length=100_000)
    overlap: int = Field(default=1, ge=1, le=50)
    lease_seconds: int = Field(
        default=DEFAULT_LEASE_SECONDS,
        ge=30,
        le=7 * 24 * 3600,
        description="how long a task stays reserved for whoever opened it; open annotate "
        "pages renew it every minute and give it back as they close",
    )


class ProjectPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=100_000)
    instructions: str | None = Field(default=None, max_length=100_000)
    overlap: int | None = Field(default=None, ge=1, le=50)
    lease_seconds: int | None = Field(default=None, ge=30, le=7 * 24 * 3600)
    archived: bool | None = None
    gold_rate: float | None = Field(default=None, ge=0, le=0.5)
    gold_first_n: int | None = Field(default=None, ge=0, le=1000)
    gold_min_accuracy: float | None = Field(
        default=None, ge=0, le=1, description="null turns the gold-accuracy pause off"
    )
    gold_min_answers: int | None = Field(default=None, ge=1, le=100_000)
    gold_exposure_limit: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="gold items served more often are rotated out; null: no limit",
    )
    review_mode: Literal["off", "all", "sample", "disagreement"] | None = None
    review_sample_rate: float | None = Field(default=None, ge=0, le=1)
    review_agreement_threshold: float | None = Field(default=None, ge=0, le=1)
    queue_order: Literal["default", "priority", "entropy", "margin"] | None = Field(
        default=None,
        description="the order the queue serves tasks in: import order, priority (higher "
        "first) or the uncertainty of predictions (entropy or margin, most uncertain first)",
    )
    skip_reasons: list[str] | None = Field(
        default=None,
        max_length=50,
        description="the reasons the annotate page offers for a skip (a reason ending in "
        "'(write it)' asks for a written note); [] offers only the note, null restores the "
        "defaults",
    )

    def changes(self) -> dict[str, Any]:
        """The fields sent; null means "leave as is" except where null is a value."""
        sent = self.model_dump(exclude_unset=True)
        return {k: v for k, v in sent.items() if v is not None or k in NULLABLE_SETTINGS}


NULLABLE_SETTINGS = {"gold_min_accuracy", "gold_exposure_limit", "skip_reasons"}


class PrioritiesIn(Body):
    priorities: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=100_000,
        description='[{"task_id": 12, "priority": 5}, {"external_id": "a-1", "priority": -1}]',
    )


class SchemaIn(Body):
    label_schema: Any = Field(alias="schema")


class AnnotationIn(Body):
    value: dict[str, Any]
    draft: bool = False
    lead_time_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class SkipIn(Body):
    reason: str | None = Field(
        default=None,
        max_length=2000,
        description="why: usually one of the project's skip_reasons (any text is kept)",
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="the annotator's own words; needed when the reason ends in '(write it)'",
    )


class GoldIn(Body):
    value: dict[str, Any] = Field(description="the expected value per field (a subset is fine)")
    reserve: bool | None = Field(
        default=None,
        description="true: keep it in reserve, to replace an over-exposed gold item; "
        "false: put it in use; left out: a new gold task is in use, a gold one keeps its state",
    )


class GoldStateIn(Body):
    state: Literal["active", "reserve", "retired"] = Field(
        description="active: served; reserve: waits to replace an over-exposed item; "
        "retired: never served again"
    )


class ReviewIn(Body):
    decision: Literal["accept", "reject", "correct"]
    reason: str | None = Field(default=None, max_length=5000)
    value: dict[str, Any] | None = Field(default=None, description="the corrected value")


ProjectRole = Literal["manager", "reviewer", "annotator"]


class EmailsIn(Body):
    emails: list[str] = Field(min_length=1, max_length=1000, description="e-mail addresses")

    @model_validator(mode="after")
    def _lengths(self) -> EmailsIn:
        for i, e in enumerate(self.emails):
            if len(e) > 320:
                raise ValueError(f"emails[{i}] is longer than 320 characters")
        return self


class BulkInviteIn(EmailsIn):
    role: Role = Role.annotator


class ProjectMembersIn(Body):
    """Add people (by e-mail) or one team to a project, with a project role."""

    emails: list[str] | None = Field(default=None, max_length=1000)
    team_id: int | None = Field(default=None, ge=1, le=ID_MAX)
    role: ProjectRole = "annotator"

    @model_validator(mode="after")
    def _one_source(self) -> ProjectMembersIn:
        if (self.emails is None) == (self.team_id is None):
            raise ValueError("give either 'emails' (a list of e-mail addresses) or 'team_id'")
        return self


class ProjectRoleIn(Body):
    role: ProjectRole


class TeamIn(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class TeamPatchIn(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class CommentIn(Body):
    body: str = Field(
        max_length=8000, description="plain text, at most 4000 characters once line ends are \\n"
    )
    thread: int | None = Field(
        default=None,
        ge=1,
        le=ID_MAX,
        description="whose questions this answers (their user id); left out: your own "
        "questions, or for the lab's reviewers and managers a lab note",
    )


class CommentsReadIn(Body):
    up_to: int | None = Field(
        default=None, ge=1, le=ID_MAX, description="the last comment id read (default: all)"
    )


class ReturnedSeenIn(Body):
    annotation_ids: list[Annotated[int, Field(ge=1, le=ID_MAX)]] | None = Field(
        default=None, max_length=500, description="default: every returned answer of yours"
    )
