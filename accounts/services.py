import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import ApiKey, Customer, Organization, User
from core.errors import Conflict

KEY_PREFIX = "tly_"


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def organization_get_or_create(*, slug: str, name: str | None = None) -> Organization:
    organization, _ = Organization.objects.get_or_create(
        slug=slugify(slug), defaults={"name": name or slug.replace("-", " ").title()}
    )
    return organization


def api_key_create(
    *, organization: Organization, name: str = "default", customer: Customer | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored or shown again.

    With `customer`, the key is read-only and sees that one customer's billing documents."""
    if customer is not None and customer.organization_id != organization.pk:
        raise ValueError("the customer belongs to another organization")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        organization=organization, name=name, prefix=raw_key[:10], key_hash=hash_api_key(raw_key), customer=customer
    )
    return api_key, raw_key


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
