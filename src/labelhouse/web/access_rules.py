"""Who may use each route: one declarative table, read by the access-matrix test
(``tests/web/test_access_matrix.py``) and citable from the documentation.

This is data, not enforcement: the domain policy (:mod:`labelhouse.accounts.policy` and the
scoped lookups of the services) decides; this table says what it must decide, and the test
sends every route as every kind of person to check it. A route missing here fails the test,
and so does a rule for a route that no longer exists.

Rule kinds (``RULE_KINDS`` holds the same text, for tools):

``public``
    No login needed (sign-in, health, invitation acceptance, static files, API docs).
``self``
    Anyone signed in, acting on their own account; an object in the path (an API token) is
    theirs, or it is a 404 like a missing one.
``member``
    Anyone signed in; the answer only holds what they may see (their projects), or is the
    same for everybody (schema validation, Markdown preview).
``org:owner`` / ``org:manager``
    Organization-level (people, teams, invitations, members, audit, creating projects): the
    organization role must be at least this. An object of another organization is a 404;
    someone below the role gets a 403 (or the 404, for another organization's object: a
    missing id would get the same answer).
``project:annotator`` / ``project:reviewer`` / ``project:manager``
    Scoped to a project (by ``project_id``, or the project owning a file, a job or a
    snapshot): outside the project (not a member, or another organization) → 404; a
    member whose project role is below this → 403. Organization owners and managers are in
    every project with their organization role. A vendor's person may be a project
    reviewer: the review queue then holds only their own workforce's work.
``project:lab-reviewer``
    Project-wide views (quality, consensus, gold accuracy, review statistics, the overview,
    the task browser, settings): as ``project:reviewer``, and a vendor's people get 403
    whatever their project role (``Actor.require_lab_reviewer``).
``task:assigned-or-reviewer``
    Scoped to a task: as ``project:annotator``, and an annotator only reaches the tasks
    assigned to them (leased or submitted); any other task is a 404. Uploaded media follow
    the same rule: an annotator reaches only the files named by a task assigned to them,
    and media a task names by URL (``/api/tasks/{task_id}/media/{key}``) follow the task.
    A vendor's people, reviewers included, are annotators here (``sees_whole_project``):
    besides their own tasks a vendor reviewer reaches only the task (and its files) they
    hold a review lease on.
``task:reviewer`` / ``task:manager``
    Scoped to a task, found as for ``task:assigned-or-reviewer`` (else 404), then the
    project role must be at least this (else 403).
``task:own-lease``
    Only whoever holds the lease on the task (skip, release, renew); for anybody else the
    lease does not exist (404).
``workforce:manager``
    A workforce manager acting on their own workforce only: anybody else gets 403 before any
    object is looked up; a person or project outside their workforce is a 404.
``annotation:own-or-reviewer``
    Scoped to an annotation: its task's project must be visible, and an annotator there
    only reaches their own annotations (else 404).

Signed-out callers of anything but ``public`` get 401 from the JSON API and a redirect to
``/login?next=…`` from pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

PUBLIC: Final = "public"
SELF: Final = "self"
MEMBER: Final = "member"
ORG_OWNER: Final = "org:owner"
ORG_MANAGER: Final = "org:manager"
PROJECT_ANNOTATOR: Final = "project:annotator"
PROJECT_REVIEWER: Final = "project:reviewer"
PROJECT_LAB_REVIEWER: Final = "project:lab-reviewer"
PROJECT_MANAGER: Final = "project:manager"
TASK_ASSIGNED: Final = "task:assigned-or-reviewer"
TASK_REVIEWER: Final = "task:reviewer"
TASK_MANAGER: Final = "task:manager"
TASK_OWN_LEASE: Final = "task:own-lease"
WORKFORCE_MANAGER: Final = "workforce:manager"
ANNOTATION_OWN: Final = "annotation:own-or-reviewer"

RULE_KINDS: Mapping[str, str] = MappingProxyType(
    {
        PUBLIC: "no login needed",
        SELF: "anyone signed in, on their own account; others' objects are 404",
        MEMBER: "anyone signed in; the answer holds only what they may see",
        ORG_OWNER: "organization owners",
        ORG_MANAGER: "organization owners and managers",
        PROJECT_ANNOTATOR: "anyone in the project (outside: 404)",
        PROJECT_REVIEWER: "project reviewers and up (outside: 404, below: 403)",
        PROJECT_LAB_REVIEWER: "project reviewers and up who are not a vendor's (else 403)",
        PROJECT_MANAGER: "project managers and up (outside: 404, below: 403)",
        TASK_ASSIGNED: "the lab's reviewers and up in the project, others on their own tasks",
        TASK_REVIEWER: "project reviewers and up, on a task they can see",
        TASK_MANAGER: "project managers and up, on a task they can see",
        TASK_OWN_LEASE: "only the holder of the task's lease",
        WORKFORCE_MANAGER: "a workforce's own managers, on their own workforce only",
        ANNOTATION_OWN: "the lab's reviewers and up, others on their own annotations",
    }
)

# (HTTP method, path template as the app declares it) -> rule kind.
# Mounted apps are listed as GET "<mount>/{path}".
RULES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        # -- meta, docs and static files ---------------------------------------------------
        ("GET", "/api/health"): PUBLIC,
        ("GET", "/api/openapi.json"): PUBLIC,
        ("GET", "/api/docs"): PUBLIC,
        ("GET", "/static/{path}"): PUBLIC,
        # -- signing in, the caller's own account ------------------------------------------
        ("POST", "/api/auth/login"): PUBLIC,
        ("POST", "/api/auth/logout"): PUBLIC,  # without a session it only clears the cookie
        ("POST", "/api/invitations/accept"): PUBLIC,
        ("GET", "/api/me"): SELF,
        ("POST", "/api/me/password"): SELF,
        ("POST", "/api/me/sessions/revoke-all"): SELF,
        ("GET", "/api/me/tokens"): SELF,
        ("POST", "/api/me/tokens"): SELF,
        ("DELETE", "/api/me/tokens/{token_id}"): SELF,
        # -- the organization: people, invitations, teams, audit ---------------------------
        ("GET", "/api/members"): ORG_MANAGER,
        ("PATCH", "/api/members/{user_id}"): ORG_MANAGER,
        ("DELETE", "/api/members/{user_id}"): ORG_MANAGER,
        ("GET", "/api/people"): ORG_MANAGER,
        ("POST", "/api/people/{user_id}/deactivate"): ORG_MANAGER,
        ("POST", "/api/people/{user_id}/reactivate"): ORG_MANAGER,
        ("POST", "/api/people/{user_id}/reset-password"): ORG_MANAGER,
        ("POST", "/api/people/{user_id}/logout-everywhere"): ORG_MANAGER,
        ("GET", "/api/invitations"): ORG_MANAGER,
        ("POST", "/api/invitations"): ORG_MANAGER,
        ("POST", "/api/invitations/bulk"): ORG_MANAGER,
        ("DELETE", "/api/invitations/{invitation_id}"): ORG_MANAGER,
        ("POST", "/api/invitations/{invitation_id}/resend"): ORG_MANAGER,
        ("GET", "/api/teams"): ORG_MANAGER,
        ("POST", "/api/teams"): ORG_MANAGER,
        ("PATCH", "/api/teams/{team_id}"): ORG_MANAGER,
        ("DELETE", "/api/teams/{team_id}"): ORG_MANAGER,
        ("POST", "/api/teams/{team_id}/members"): ORG_MANAGER,
        ("DELETE", "/api/teams/{team_id}/members/{user_id}"): ORG_MANAGER,
        ("PUT", "/api/teams/{team_id}/workforce"): ORG_MANAGER,
        ("POST", "/api/teams/{team_id}/end-contract"): ORG_MANAGER,
        ("PUT", "/api/teams/{team_id}/managers/{user_id}"): ORG_MANAGER,
        # -- a workforce manager's own workforce -------------------------------------------
        ("GET", "/api/workforce"): WORKFORCE_MANAGER,
        ("POST", "/api/workforce/invitations"): WORKFORCE_MANAGER,
        ("POST", "/api/workforce/people/{user_id}/deactivate"): WORKFORCE_MANAGER,
        ("POST", "/api/workforce/people/{user_id}/reactivate"): WORKFORCE_MANAGER,
        ("GET", "/api/workforce/projects/{project_id}"): WORKFORCE_MANAGER,
        ("GET", "/api/workforce/projects/{project_id}/export"): WORKFORCE_MANAGER,
        ("GET", "/api/workforce/projects/{project_id}/tasks"): WORKFORCE_MANAGER,
        ("PUT", "/api/workforce/projects/{project_id}/reviewers/{user_id}"): WORKFORCE_MANAGER,
        ("GET", "/workforce"): WORKFORCE_MANAGER,
        # -- rubrics: versioned scoring guides of the organization --------------------------
        ("GET", "/api/rubrics"): ORG_MANAGER,
        ("POST", "/api/rubrics"): ORG_MANAGER,
        ("GET", "/api/rubrics/{rubric_id}"): ORG_MANAGER,
        ("POST", "/api/rubrics/{rubric_id}/versions"): ORG_MANAGER,
        ("GET", "/api/audit"): ORG_OWNER,
        ("GET", "/api/audit/verify"): ORG_OWNER,
        ("GET", "/api/audit/export"): ORG_OWNER,
        # -- projects, schemas, members ----------------------------------------------------
        ("GET", "/api/projects"): MEMBER,
        ("POST", "/api/projects"): ORG_MANAGER,
        ("POST", "/api/schemas/validate"): MEMBER,
        ("POST", "/api/markdown/preview"): MEMBER,
        ("GET", "/api/projects/{project_id}"): PROJECT_ANNOTATOR,
        ("PATCH", "/api/projects/{project_id}"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/schema"): PROJECT_ANNOTATOR,
        ("PUT", "/api/projects/{project_id}/schema"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/schema/versions"): PROJECT_ANNOTATOR,
        ("POST", "/api/projects/{project_id}/schema/sample"): PROJECT_LAB_REVIEWER,
        ("GET", "/api/projects/{project_id}/members"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/members"): PROJECT_MANAGER,
        ("PATCH", "/api/projects/{project_id}/members/{user_id}"): PROJECT_MANAGER,
        ("DELETE", "/api/projects/{project_id}/members/{user_id}"): PROJECT_MANAGER,
        ("DELETE", "/api/projects/{project_id}/teams/{team_id}"): PROJECT_MANAGER,
        ("PUT", "/api/projects/{project_id}/teams/{team_id}/export"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/routing"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/routing"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/routing/move"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/routing/unroute"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/outside-policy"): PROJECT_MANAGER,
        ("PUT", "/api/projects/{project_id}/outside-policy"): PROJECT_MANAGER,
        ("POST", "/api/trace"): ORG_MANAGER,  # leaked text → serving; own organization only
        ("GET", "/api/projects/{project_id}/workforces/comparison"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/workforces/comparison.csv"): PROJECT_MANAGER,
        ("GET", "/api/workforces/comparison"): ORG_MANAGER,
        ("GET", "/api/workforces/comparison.csv"): ORG_MANAGER,
        # -- import, files, export ---------------------------------------------------------
        ("POST", "/api/projects/{project_id}/import"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/annotations/import"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/imports"): PROJECT_MANAGER,
        ("DELETE", "/api/projects/{project_id}/imports/{import_id}/tasks"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/tasks/priorities"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/files"): PROJECT_MANAGER,
        ("GET", "/api/files/{file_id}"): TASK_ASSIGNED,  # media follow their tasks
        ("GET", "/api/tasks/{task_id}/media/{key}"): TASK_ASSIGNED,  # media by URL too
        ("GET", "/api/projects/{project_id}/export"): PROJECT_MANAGER,
        ("POST", "/api/label-studio/import"): ORG_MANAGER,  # creates a project
        ("GET", "/api/projects/{project_id}/label-studio/config"): PROJECT_MANAGER,
        # -- background jobs and snapshots (the project of the job or snapshot) -----------
        ("POST", "/api/projects/{project_id}/exports"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/import/jobs"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/jobs"): PROJECT_MANAGER,
        ("GET", "/api/jobs/{job_id}"): PROJECT_MANAGER,
        ("POST", "/api/jobs/{job_id}/cancel"): PROJECT_MANAGER,
        ("GET", "/api/jobs/{job_id}/download"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/snapshots"): PROJECT_MANAGER,
        ("GET", "/api/projects/{project_id}/snapshots"): PROJECT_MANAGER,
        ("GET", "/api/snapshots/{snapshot_id}"): PROJECT_MANAGER,
        ("GET", "/api/snapshots/{snapshot_id}/files/{name}"): PROJECT_MANAGER,
        # -- the work queue, tasks, annotations --------------------------------------------
        ("POST", "/api/projects/{project_id}/next"): PROJECT_ANNOTATOR,
        ("GET", "/api/projects/{project_id}/tasks"): PROJECT_ANNOTATOR,
        ("GET", "/api/tasks/{task_id}"): TASK_ASSIGNED,
        ("POST", "/api/tasks/{task_id}/skip"): TASK_OWN_LEASE,
        ("DELETE", "/api/tasks/{task_id}/lease"): TASK_OWN_LEASE,
        ("POST", "/api/tasks/{task_id}/lease/release"): TASK_OWN_LEASE,  # the page's beacon
        ("POST", "/api/tasks/{task_id}/lease/renew"): TASK_OWN_LEASE,  # the page's heartbeat
        ("POST", "/api/tasks/{task_id}/annotations"): TASK_ASSIGNED,
        ("GET", "/api/tasks/{task_id}/annotations"): TASK_ASSIGNED,
        ("GET", "/api/annotations/{annotation_id}/history"): ANNOTATION_OWN,
        # -- quality, gold, review ---------------------------------------------------------
        ("GET", "/api/projects/{project_id}/quality"): PROJECT_LAB_REVIEWER,
        ("GET", "/api/projects/{project_id}/quality/acceptance"): PROJECT_LAB_REVIEWER,
        ("GET", "/api/projects/{project_id}/consensus"): PROJECT_LAB_REVIEWER,
        ("GET", "/api/projects/{project_id}/gold/accuracy"): PROJECT_LAB_REVIEWER,
        ("POST", "/api/projects/{project_id}/annotators/{user_id}/unpause"): PROJECT_MANAGER,
        ("PUT", "/api/tasks/{task_id}/gold"): TASK_MANAGER,
        ("DELETE", "/api/tasks/{task_id}/gold"): TASK_MANAGER,
        ("PUT", "/api/tasks/{task_id}/gold/state"): TASK_MANAGER,
        ("GET", "/api/projects/{project_id}/gold/exposure"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/gold/rotate"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/review/next"): PROJECT_REVIEWER,
        ("POST", "/api/tasks/{task_id}/review"): TASK_REVIEWER,
        ("POST", "/api/tasks/{task_id}/review/lease/renew"): TASK_REVIEWER,  # page heartbeat
        ("GET", "/api/tasks/{task_id}/reviews"): TASK_REVIEWER,
        ("GET", "/api/projects/{project_id}/review/stats"): PROJECT_LAB_REVIEWER,
        # -- review feedback to annotators, comments on tasks (their own work only) -------
        ("GET", "/api/projects/{project_id}/returned"): PROJECT_ANNOTATOR,
        ("POST", "/api/projects/{project_id}/returned/seen"): PROJECT_ANNOTATOR,
        ("GET", "/api/projects/{project_id}/reviewed"): PROJECT_ANNOTATOR,
        ("GET", "/api/me/returned"): SELF,
        ("POST", "/api/tasks/{task_id}/fix"): TASK_ASSIGNED,  # 409 unless theirs was rejected
        ("GET", "/api/tasks/{task_id}/comments"): TASK_ASSIGNED,
        ("POST", "/api/tasks/{task_id}/comments"): TASK_ASSIGNED,
        ("POST", "/api/tasks/{task_id}/comments/read"): TASK_ASSIGNED,
        ("GET", "/api/projects/{project_id}/comments/unread"): PROJECT_ANNOTATOR,
        # -- models in the loop: endpoints and the egress policy (docs/models.md) ----------
        ("GET", "/api/model-endpoints"): ORG_MANAGER,
        ("POST", "/api/model-endpoints"): ORG_OWNER,
        ("DELETE", "/api/model-endpoints/{endpoint_id}"): ORG_OWNER,
        ("PUT", "/api/model-endpoints/{endpoint_id}/api-key"): ORG_OWNER,
        ("GET", "/api/model-egress"): ORG_OWNER,
        ("PUT", "/api/model-egress"): ORG_OWNER,
        ("DELETE", "/api/model-egress/{rule_id}"): ORG_OWNER,
        ("GET", "/api/projects/{project_id}/models"): PROJECT_MANAGER,
        ("POST", "/api/projects/{project_id}/models/predict"): PROJECT_MANAGER,
        # -- HTML pages --------------------------------------------------------------------
        ("GET", "/login"): PUBLIC,
        ("POST", "/login"): PUBLIC,
        ("POST", "/logout"): PUBLIC,  # without a session it only redirects to /login
        ("GET", "/invite"): PUBLIC,
        ("GET", "/account"): SELF,
        ("GET", "/"): MEMBER,
        ("GET", "/people"): ORG_MANAGER,
        ("GET", "/rubrics"): ORG_MANAGER,
        ("GET", "/audit"): ORG_OWNER,
        ("GET", "/projects/{project_id}"): PROJECT_LAB_REVIEWER,
        ("GET", "/projects/{project_id}/settings"): PROJECT_LAB_REVIEWER,
        ("GET", "/projects/{project_id}/tasks"): PROJECT_LAB_REVIEWER,
        ("GET", "/projects/{project_id}/import"): PROJECT_MANAGER,
        ("GET", "/projects/{project_id}/export"): PROJECT_MANAGER,
        ("GET", "/projects/{project_id}/annotate"): PROJECT_ANNOTATOR,
        ("GET", "/projects/{project_id}/quality"): PROJECT_LAB_REVIEWER,
        ("GET", "/projects/{project_id}/workforces"): PROJECT_MANAGER,
        ("GET", "/projects/{project_id}/review"): PROJECT_REVIEWER,
        ("GET", "/tasks/{task_id}"): TASK_REVIEWER,
    }
)
