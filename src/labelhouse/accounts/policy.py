"""Who is acting, and the role checks every service applies."""

from __future__ import annotations

from dataclasses import dataclass

from labelhouse.accounts.models import ROLE_RANK, Role
from labelhouse.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    """The authenticated user acting inside one organization."""

    user_id: int
    organization_id: int
    role: Role
    email: str = ""

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: Role, action: str = "do this") -> None:
        if not self.at_least(role):
            raise PermissionDenied(f"You need the {role.value} role or higher to {action}.")

    @property
    def sees_all_tasks(self) -> bool:
        """Reviewers and up see every task; annotators only tasks assigned to them."""
        return self.at_least(Role.reviewer)
