"""Request bodies of the JSON API (Pydantic models; unknown fields are rejected)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labelhouse.accounts.models import Role


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    organization_id: int | None = None


class PasswordChangeIn(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=200)


class InviteIn(Body):
    email: str = Field(max_length=320)
    role: Role = Role.annotator


class AcceptInviteIn(Body):
    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)


class RoleIn(Body):
    role: Role


class ProjectIn(Body):
    name: str = Field(min_length=1, max_length=200)
    label_schema: Any = Field(alias="schema", description="The label schema: {fields: [...]}")
    description: str = Field(default="", max_length=100_000)
    instructions: str = Field(default="", max_length=100_000)
    overlap: int = Field(default=1, ge=1, le=50)
    lease_seconds: int = Field(default=1800, ge=30, le=7 * 24 * 3600)


class ProjectPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=100_000)
    instructions: str | None = Field(default=None, max_length=100_000)
    overlap: int | None = Field(default=None, ge=1, le=50)
    lease_seconds: int | None = Field(default=None, ge=30, le=7 * 24 * 3600)
    archived: bool | None = None


class SchemaIn(Body):
    label_schema: Any = Field(alias="schema")


class AnnotationIn(Body):
    value: dict[str, Any]
    draft: bool = False
    lead_time_ms: float | None = Field(default=None, ge=0)


class SkipIn(Body):
    reason: str | None = Field(default=None, max_length=2000)
