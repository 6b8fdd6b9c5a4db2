"""Billing details: the organization's billing profile (the seller on its invoices) and a customer's
billing details (the buyer). Writes for the API and the settings pages; reads are the models' own."""

import io
import re
from typing import Any

from django.db import transaction

from accounts.models import BillingProfile, Customer, Organization
from core.errors import DomainError

COUNTRY = re.compile(r"^[A-Z]{2}$")
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}

ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "postal_code", "region", "country")
PROFILE_FIELDS = (
    "legal_name", *ADDRESS_FIELDS, "tax_id", "email", "logo_url", "payment_terms_days", "memo", "footer",
    "payment_instructions",
)
CUSTOMER_FIELDS = (
    "billing_name", *ADDRESS_FIELDS, "tax_id", "billing_email", "tax_status", "tax_exemption_reference",
    "payment_terms_days",
)
MAX_TERMS_DAYS = 365


def country_clean(value: str, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code, upper case ("de" → "DE"); blank stays blank."""
    code = (value or "").strip().upper()
    if code and not COUNTRY.match(code):
        raise DomainError(f"{value!r} is not a two-letter ISO 3166-1 country code.", field=field)
    return code


def _terms_clean(value: Any, *, field: str = "payment_terms_days") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TERMS_DAYS:
        raise DomainError(f"Payment terms are 0 to {MAX_TERMS_DAYS} days.", field=field)
    return value


def billing_profile_get(*, organization: Organization) -> BillingProfile:
    """The organization's profile, an unsaved default (net 30, no texts) when it has none yet."""
    return BillingProfile.objects.filter(organization=organization).first() or BillingProfile(organization=organization)


def billing_profile_update(*, organization: Organization, **fields: Any) -> BillingProfile:
    """Set some of the profile's fields (PROFILE_FIELDS); the others keep their values."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    if "country" in fields:
        fields["country"] = country_clean(fields["country"])
    if "payment_terms_days" in fields:
        _terms_clean(fields["payment_terms_days"])
    with transaction.atomic():
        profile, _ = BillingProfile.objects.select_for_update().get_or_create(organization=organization)
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.save()
        return profile


def billing_profile_logo_set(*, organization: Organization, data: bytes) -> BillingProfile:
    """Store a PNG or JPEG logo (at most 512 KB) printed on the invoices; empty bytes remove it."""
    content_type = ""
    if data:
        if len(data) > LOGO_MAX_BYTES:
            raise DomainError("The logo is larger than 512 KB.", field="logo")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                kind = image.format or ""
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DomainError("The logo is not a readable image.", field="logo") from exc
        if kind not in LOGO_TYPES:
            raise DomainError("The logo must be a PNG or a JPEG.", field="logo")
        content_type = LOGO_TYPES[kind]
    with transaction.atomic():
        profile, _ = BillingProfile.objects.select_for_update().get_or_create(organization=organization)
        profile.logo, profile.logo_content_type = data, content_type
        profile.save(update_fields=["logo", "logo_content_type", "updated_at"])
        return profile


def customer_billing_update(*, customer: Customer, **fields: Any) -> Customer:
    """Set some of the customer's billing details (CUSTOMER_FIELDS); payment_terms_days None means the
    organization's terms."""
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    if "country" in fields:
        fields["country"] = country_clean(fields["country"])
    if fields.get("payment_terms_days") is not None:
        _terms_clean(fields["payment_terms_days"])
    if "tax_status" in fields and fields["tax_status"] not in Customer.TaxStatus.values:
        raise DomainError(f"Tax status is one of {', '.join(Customer.TaxStatus.values)}.", field="tax_status")
    with transaction.atomic():
        current = Customer.objects.select_for_update().get(pk=customer.pk)
        for name, value in fields.items():
            setattr(current, name, value)
        current.save(update_fields=list(fields))
        return current
