"""API authentication: `Authorization: Bearer <key>` resolves to one organization."""

import time
from dataclasses import dataclass
from typing import Any

import pghistory
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.api.throttling import INGEST, rate_limit_check
from accounts.keyversions import UNKNOWN, api_key_versions_current, shared_cache_in_use
from accounts.models import ApiKey, Customer, Organization
from accounts.selectors import api_key_authenticate
from accounts.services import api_key_touch
from core.cache import HitCache

# Keys resolved in the last few seconds are remembered per process so the ingestion hot path does
# not pay a query per request. Each request reads the shared key-version counter (one cache GET):
# when any key was revoked or changed, every process forgets its keys and looks them up again.
_keys = HitCache(seconds=30.0)
_seen_version = UNKNOWN
# last_used_at is written at most once a minute per key and process (a conditional UPDATE, so the
# row changes at most once a minute whatever the number of processes).
LAST_USED_EVERY_SECONDS = 60.0
_last_touched: dict[int, float] = {}


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
    api_key = _resolve(raw_key)
    if api_key is not None:
        _touch(api_key)
    return api_key


def _resolve(raw_key: str) -> ApiKey | None:
    global _seen_version
    if not shared_cache_in_use():  # other workers could not tell this one of a revocation
        return api_key_authenticate(raw_key=raw_key)
    version = api_key_versions_current()
    if version == UNKNOWN:
        return api_key_authenticate(raw_key=raw_key)
    if version != _seen_version:
        _keys.clear()
        _seen_version = version
    api_key: ApiKey | None = _keys.get(0, raw_key, lambda key: api_key_authenticate(raw_key=key))
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = time.monotonic()
    if now - _last_touched.get(api_key.pk, -LAST_USED_EVERY_SECONDS) < LAST_USED_EVERY_SECONDS:
        return
    _last_touched[api_key.pk] = now
    api_key_touch(api_key_id=api_key.pk, every_seconds=int(LAST_USED_EVERY_SECONDS))


def clear_key_cache() -> None:
    global _seen_version
    _keys.clear()
    _last_touched.clear()
    _seen_version = UNKNOWN


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[ApiPrincipal, ApiKey] | None:
        if bearer_key(request) is None:
            return None
        api_key = api_key_from_request(request)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        # The audit log's "who" for writes in this request (the middleware opened the context).
        pghistory.context(api_key=api_key.prefix, organization=api_key.organization_id)
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class HasOrganization(permissions.BasePermission):
    """What a key's scope allows on the API views (ingestion POSTs are checked by `ingesting_organization_id`).

    `admin` does everything; `read` reads (safe methods); `ingest` only posts events, so every view
    here refuses it. A customer key (always `read`) only reads the views marked `customer_readable`.
    """

    message = "A customer API key may only read its own invoices, ROI, credit notes, wallet and notifications."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not isinstance(request.user, ApiPrincipal):
            return False
        api_key = request.user.api_key
        if api_key.customer_id is not None:
            return bool(getattr(view, "customer_readable", False)) and request.method in permissions.SAFE_METHODS
        if api_key.scope == ApiKey.Scope.ADMIN:
            return True
        if api_key.scope == ApiKey.Scope.READ and request.method in permissions.SAFE_METHODS:
            return True
        self.message = SCOPE_MESSAGES[api_key.scope]
        return False


SCOPE_MESSAGES: dict[str, str] = {
    ApiKey.Scope.INGEST: "An ingest API key may only post usage and outcome events.",
    ApiKey.Scope.READ: "A read API key may not change anything.",
    ApiKey.Scope.ADMIN: "",
}


def ingesting_organization_id(request: HttpRequest) -> int:
    """The organization posting a batch, for the ingestion path that runs outside DRF: the same
    answers as ApiKeyAuthentication and HasOrganization give to a POST, then the key's ingestion
    rate limit (429 with Retry-After)."""
    if bearer_key(request) is None:
        raise exceptions.NotAuthenticated()
    api_key = api_key_from_request(request)
    if api_key is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    if api_key.customer_id is not None:
        raise exceptions.PermissionDenied(HasOrganization.message)
    if api_key.scope not in (ApiKey.Scope.INGEST, ApiKey.Scope.ADMIN):
        raise exceptions.PermissionDenied(SCOPE_MESSAGES[api_key.scope])
    rate_limit_check(api_key_id=api_key.pk, scope=INGEST)
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
