import hashlib
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.keyversions import api_key_versions_bump
from accounts.models import ApiKey, Customer, Organization, User
from core.errors import Conflict, DomainError, NotFound

KEY_PREFIX = "tly_"


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    organization, _ = Organization.objects.get_or_create(
        slug=slugify(slug), defaults={"name": name or slug.replace("-", " ").title()}
    )
    return organization


def api_key_create(
    *,
    organization: Organization,
    name: str = "default",
    customer: Customer | None = None,
    scope: str = ApiKey.Scope.ADMIN,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored or shown again.

    With `customer`, the key is read-only and sees that one customer's billing documents."""
    if customer is not None and customer.organization_id != organization.pk:
        raise ValueError("the customer belongs to another organization")
    if scope not in ApiKey.Scope.values:
        raise DomainError(f"Unknown scope {scope!r}; one of {', '.join(ApiKey.Scope.values)}.", field="scope")
    if customer is not None:
        scope = ApiKey.Scope.READ
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        organization=organization, name=name, prefix=raw_key[:10], key_hash=hash_api_key(raw_key),
        customer=customer, scope=scope,
    )
    return api_key, raw_key


def api_key_revoke(*, organization: Organization, api_key_id: int) -> ApiKey:
    """Revoke a key of the organization: refused from the next request on, in every process."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().filter(organization=organization, pk=api_key_id).first()
        if api_key is None:
            raise NotFound(f"No API key {api_key_id}.", field="api_key")
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
        transaction.on_commit(api_key_versions_bump)
    api_key_versions_bump()  # also now: a request racing the commit refetches and finds the row revoked
    return api_key


def api_key_touch(*, api_key_id: int, every_seconds: int) -> None:
    """Note that a key was used: one conditional UPDATE that changes the row at most every `every_seconds`."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=every_seconds))
    ).update(last_used_at=now)


def customer_create(
    *, organization: Organization, external_id: str, name: str, currency: str, email: str = ""
) -> Customer:
    try:
        with transaction.atomic():
            return Customer.objects.create(
                organization=organization,
                external_id=external_id,
                name=name,
                currency=currency.upper(),
                email=email,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"A customer with external_id {external_id!r} already exists.", field="external_id"
        ) from exc


def user_create(
    *,
    username: str,
    password: str,
    organization: Organization,
    role: str,
    customer: Customer | None = None,
    email: str = "",
) -> User:
    if customer is not None and customer.organization_id != organization.pk:
        raise ValueError("a customer user must belong to the customer's organization")
    user = User(username=username, email=email, organization=organization, role=role, customer=customer)
    user.set_password(password)
    user.save()
    return user
