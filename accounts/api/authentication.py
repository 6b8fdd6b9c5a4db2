"""API authentication: `Authorization: Bearer <key>` resolves to one organization."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.models import ApiKey, Customer, Organization
from accounts.selectors import api_key_authenticate
from core.cache import HitCache

# Keys resolved in the last few seconds are remembered per process so the ingestion hot path
# does not pay a query per request; a revoked key stops working within 30 seconds.
_keys = HitCache(seconds=30.0)


@dataclass(frozen=True)
class ApiPrincipal:
    """The caller of an API request: an organization, through one of its keys."""

    api_key: ApiKey

    @property
    def organization(self) -> Organization:
        return self.api_key.organization

    is_authenticated = True
    is_anonymous = False


def bearer_key(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key_from_request(request: HttpRequest) -> ApiKey | None:
    raw_key = bearer_key(request)
    if raw_key is None:
        return None
    api_key: ApiKey | None = _keys.get(0, raw_key, lambda key: api_key_authenticate(raw_key=key))
    return api_key


def clear_key_cache() -> None:
    _keys.clear()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[ApiPrincipal, ApiKey] | None:
        if bearer_key(request) is None:
            return None
        api_key = api_key_from_request(request)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class HasOrganization(permissions.BasePermission):
    """Any organization key; a customer key only reads the views marked `customer_readable`."""

    message = "A customer API key may only read its own invoices, ROI, credit notes, wallet and notifications."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not isinstance(request.user, ApiPrincipal):
            return False
        if request.user.api_key.customer_id is None:
            return True
        return bool(getattr(view, "customer_readable", False)) and request.method in permissions.SAFE_METHODS


def ingesting_organization_id(request: HttpRequest) -> int:
    """The organization posting a batch, for the ingestion path that runs outside DRF: the same
    answers as ApiKeyAuthentication and HasOrganization give to a POST."""
    if bearer_key(request) is None:
        raise exceptions.NotAuthenticated()
    api_key = api_key_from_request(request)
    if api_key is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    if api_key.customer_id is not None:
        raise exceptions.PermissionDenied(HasOrganization.message)
    return api_key.organization_id


def organization_of(request: Any) -> Organization:
    return request.user.organization


def api_actor_label(request: Any) -> str:
    """Who did it, for a transition or audit row: the API key, by its public prefix."""
    return f"api:{request.user.api_key.prefix}"


def customer_scope(request: Any) -> Customer | None:
    """The one customer a customer-scoped key may see, or None for an organization key."""
    return request.user.api_key.customer


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An organization's API key."}
