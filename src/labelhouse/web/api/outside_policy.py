"""What outside (vendor) workforces are shown of a project's task data, and tracing leaked
text back to the serving that carried it (JSON API).

The policy: project managers (and organization owners and managers). Tracing: organization
owners and managers, within their organization only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field, StrictBool

from labelhouse.tasks import outside_policy
from labelhouse.tasks.outside_view import (
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_RULES,
    OutsidePolicy,
)
from labelhouse.web.api.schemas import Body
from labelhouse.web.api.serializers import json_response
from labelhouse.web.deps import Ctx
from labelhouse.web.params import Id

router = APIRouter(prefix="/api", tags=["outside workforces"])
MAX_TRACE_TEXT = 1_000_000

Key = Annotated[str, Field(min_length=1, max_length=MAX_KEY_LENGTH)]


# A redaction rule: a built-in name or a named pattern. Items are checked by the domain
# validator (so a problem is named "redact[2].pattern", not after a branch of a union);
# the schema below documents them in the OpenAPI description.
RULE_SCHEMA = {
    "anyOf": [
        {"type": "string", "enum": ["email", "phone"]},
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "pattern": {"type": "string", "maxLength": MAX_PATTERN_LENGTH},
            },
            "required": ["name", "pattern"],
            "additionalProperties": False,
        },
    ]
}


class OutsidePolicyIn(Body):
    """The whole policy (a field left out takes its default: nothing hidden, no canary)."""

    hidden_keys: list[Key] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description='task-data keys, or dotted paths ("customer.id"), removed for vendors',
    )
    redact: list[Any] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description='"email", "phone" or {"name", "pattern"} (a Python regular expression): '
        "matches become [<name> hidden]",
        json_schema_extra={"items": RULE_SCHEMA},
    )
    canary: StrictBool = Field(
        default=False, description="weave an invisible marker naming the serving into the text"
    )


def policy_out(policy: OutsidePolicy) -> dict[str, Any]:
    return policy.as_json()


@router.get("/projects/{project_id}/outside-policy")
def get_outside_policy(project_id: Id, ctx: Ctx) -> dict[str, Any]:
    """What vendors' people are shown of this project's tasks (with the defaults filled in)."""
    with ctx.read() as (s, actor):
        return policy_out(outside_policy.get_policy(s, actor, project_id))


@router.put("/projects/{project_id}/outside-policy")
def put_outside_policy(project_id: Id, body: OutsidePolicyIn, ctx: Ctx) -> dict[str, Any]:
    """Replace the policy. Invalid keys or patterns: 422 naming each (``redact[2].pattern``).
    Applies from the next task served; exports and the lab's own pages never change."""
    with ctx.write() as (s, actor):
        policy = outside_policy.set_policy(s, actor, project_id, body.model_dump())
    return policy_out(policy)


class TraceIn(Body):
    text: str = Field(max_length=MAX_TRACE_TEXT, description="the leaked text, as found")


@router.post("/trace")
def trace(body: TraceIn, ctx: Ctx) -> Any:
    """Find canary markers in leaked text and say whose serving each came from: workforce,
    person, project, task and when. A marker of another organization's serving is reported
    as not found, like one that names nothing."""
    with ctx.write() as (s, actor):  # written: the audit log records who traced what
        result = outside_policy.trace(s, actor, body.text)
    found = sum(t.found for t in result.traces)
    if not result.traces:
        message = "No marker found in this text (markers are lost when text is retyped, "
        message += "converted to plain ASCII or stripped of invisible characters)."
    else:
        message = f"{len(result.traces)} marker(s) found; {found} name a serving here."
    return json_response(
        {
            "markers": [t.as_json() for t in result.traces],
            "found": found,
            "not_found": len(result.traces) - found,
            "more": result.more,
            "message": message,
        }
    )
