"""Who may see what in the portal: vendor users see their organization, customer users their customer.

Views take their scope from `scope_of(request)` and pass its organization (and customer) to every
read; a row outside the scope is answered 404, a vendor-only page opened by a customer user 403.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from accounts.models import Customer, Organization, User
from billing.audience import Audience, audience_for
from billing.audience import sees_cost as audience_sees_cost
from core.errors import NotFound

__all__ = [
    "login_required",
    "Scope",
    "scope_of",
    "vendor_required",
    "vendor_admin_required",
    "not_found_as_404",
]


class Scope:
    def __init__(self, user: User) -> None:
        if user.organization_id is None:
            raise PermissionDenied("This account belongs to no organization.")
        self.user = user
        self.organization: Organization = user.organization  # type: ignore[assignment]
        self.customer: Customer | None = None
        if not user.is_vendor:
            customer = user.customer
            # A customer user bound to another organization's customer would be a data bug; refuse it.
            if customer is None or customer.organization_id != user.organization_id:
                raise PermissionDenied("This account is not linked to a customer of its organization.")
            self.customer = customer

    @property
    def is_vendor(self) -> bool:
        return self.customer is None

    @property
    def is_vendor_admin(self) -> bool:
        return self.is_vendor and self.user.role == User.Role.VENDOR_ADMIN

    @property
    def audience(self) -> Audience:
        """Who asks, by the one rule the API answers follow too (billing.audience)."""
        return audience_for(customer=self.customer)

    @property
    def sees_cost(self) -> bool:
        """Cost to serve and margin are the vendor's business, never shown to its customers."""
        return audience_sees_cost(self.audience)


def scope_of(request: HttpRequest) -> Scope:
    return Scope(request.user)  # type: ignore[arg-type]


View = Callable[..., HttpResponseBase]


def vendor_required(view: View) -> View:
    """Vendor-console pages: a logged-in customer user gets 403, an anonymous visitor the login page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not scope_of(request).is_vendor:
            raise PermissionDenied("This page is part of the vendor console.")
        return view(request, *args, **kwargs)

    return wrapped


def vendor_admin_required(view: View) -> View:
    """Actions that move money or settle disputes: a vendor admin only. A vendor member reads the same
    pages but gets 403 here; a customer user 403 as on every vendor page."""

    @vendor_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not scope_of(request).is_vendor_admin:
            raise PermissionDenied("Only a vendor admin may do this.")
        return view(request, *args, **kwargs)

    return wrapped


def not_found_as_404(view: View) -> View:
    """Turn the selectors' typed NotFound into the portal's 404 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    return wrapped
