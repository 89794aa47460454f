"""Who is acting, and the one access policy every service applies.

An :class:`Actor` is resolved once per request (and cached for a few seconds, see
:mod:`labelhouse.accounts.identity_cache`). It carries the organization role and, for
people who do not see every project, the role they hold in each project they may enter.
Organization owners and managers see every project with their organization role;
everybody else sees only their projects, with their project role there. A project outside
that set is indistinguishable from a missing one (``NotFound``), exactly as another
organization's project is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from labelhouse.accounts.models import ROLE_RANK, Role
from labelhouse.errors import NotFound, PermissionDenied

NO_PROJECTS: Mapping[int, Role] = MappingProxyType({})


@dataclass(frozen=True)
class Actor:
    """The authenticated user acting inside one organization (or inside one project of it,
    once :meth:`in_project` has been applied: then ``role`` is the role in that project)."""

    user_id: int
    organization_id: int
    role: Role
    email: str = ""
    # Project id -> project role, for people who do not see every project.
    project_roles: Mapping[int, Role] = field(default_factory=lambda: NO_PROJECTS, compare=False)
    # The project this actor was scoped to by in_project(), if any.
    project_id: int | None = None
    # A read-only API token may only read (safe HTTP methods).
    read_only: bool = False
    # Signed in with a one-time password: only changing it (or logging out) is allowed.
    must_change_password: bool = False
    # The workforce (staff or vendor team) the person works in here, if any: the queue
    # serves them the tasks routed to it (a vendor's people nothing else).
    workforce_id: int | None = None
    vendor: bool = False
    # Manages the people of their own workforce (and only them).
    workforce_manager: bool = False

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: Role, action: str = "do this") -> None:
        if not self.at_least(role):
            where = " in this project" if self.project_id is not None else ""
            raise PermissionDenied(f"You need the {role.value} role or higher{where} to {action}.")

    @property
    def sees_all_projects(self) -> bool:
        """Organization owners and managers see (and manage) every project."""
        return ROLE_RANK[self.org_role] >= ROLE_RANK[Role.manager]

    @property
    def org_role(self) -> Role:
        """The organization role, even on an actor scoped to a project."""
        return self._org_role if self._org_role is not None else self.role

    _org_role: Role | None = field(default=None, compare=False, repr=False)

    @property
    def sees_whole_project(self) -> bool:
        """Whether this actor sees every task, annotation, file and score of the project in
        scope: the lab's reviewers and up. Annotators see only the tasks given to them, and
        a vendor's people never more than that, whatever their project role (a vendor
        reviewer reviews only their own workforce's work, see ``review/service.py``).

        The one predicate for "the whole project": use it, not a role comparison."""
        return self.at_least(Role.reviewer) and not self.vendor

    def require_lab_reviewer(self, action: str = "do this") -> None:
        """Project-wide views (quality, gold accuracy, agreement, review statistics, the
        task browser): reviewers and up who are not a vendor's people."""
        self.require(Role.reviewer, action)
        if self.vendor:
            raise PermissionDenied(
                f"Only the lab's own reviewers and managers may {action}: a vendor's people "
                "see their own workforce's work only."
            )

    def require_org(self, role: Role, action: str = "do this") -> None:
        """An organization-level check (people, teams, audit), whatever project is in scope."""
        if ROLE_RANK[self.org_role] < ROLE_RANK[role]:
            raise PermissionDenied(
                f"You need the organization's {role.value} role or higher to {action}."
            )

    def role_in(self, project_id: int) -> Role | None:
        """The actor's role in a project of their organization, None when they may not see it."""
        if self.sees_all_projects:
            return self.org_role
        return self.project_roles.get(project_id)

    def can_see_project(self, project_id: int) -> bool:
        return self.role_in(project_id) is not None

    def visible_project_ids(self) -> frozenset[int] | None:
        """The projects this actor may see, or None for every project of the organization."""
        return None if self.sees_all_projects else frozenset(self.project_roles)

    def in_project(self, project_id: int) -> Actor:
        """This actor with their role in ``project_id``; NotFound (the same as for a missing
        project) when they may not see it."""
        if self.project_id == project_id:
            return self
        role = self.role_in(project_id)
        if role is None:
            raise NotFound(f"Project {project_id} does not exist.")
        return replace(self, role=role, project_id=project_id, _org_role=self.org_role)
