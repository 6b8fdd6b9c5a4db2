"""Who may see what in the portal: vendor users see their organization, customer users their customer."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.models import Customer, Organization, User

__all__ = ["login_required", "Scope", "scope_of"]


class Scope:
    def __init__(self, user: User) -> None:
        if user.organization_id is None:
            raise PermissionDenied("This account belongs to no organization.")
        self.user = user
        self.organization: Organization = user.organization  # type: ignore[assignment]
        self.customer: Customer | None = user.customer if not user.is_vendor else None

    @property
    def is_vendor(self) -> bool:
        return self.customer is None


def scope_of(request: HttpRequest) -> Scope:
    return Scope(request.user)  # type: ignore[arg-type]
