"""Our customers as Stripe customers: created when first invoiced, updated when their billing details
changed since, found again by metadata if an earlier attempt created one we did not hear of."""

import hashlib
import json
from typing import Any, cast

import stripe
from django.utils import timezone

from accounts.models import Customer
from payments.models import StripeAccount, StripeCustomer

# Stripe's tax id type for a VAT or business number, by the customer's country (ISO 3166-1 alpha-2).
_EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
       "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
_TAX_ID_TYPES = {"GB": "gb_vat", "US": "us_ein", "CH": "ch_vat", "NO": "no_vat", "AU": "au_abn", "CA": "ca_bn",
                 "NZ": "nz_gst", "IN": "in_gst", "SG": "sg_gst", "JP": "jp_trn"} | {code: "eu_vat" for code in _EU}
_TAX_EXEMPT: dict[str, str] = {Customer.TaxStatus.STANDARD: "none", Customer.TaxStatus.EXEMPT: "exempt",
               Customer.TaxStatus.REVERSE_CHARGE: "reverse"}


def tax_id_type(country: str) -> str | None:
    return _TAX_ID_TYPES.get(country.upper())


def customer_params(customer: Customer, *, organization_slug: str) -> dict[str, Any]:
    """What Stripe is told of a customer: billing name and email, address, tax status, our ids."""
    params: dict[str, Any] = {
        "name": customer.billing_name or customer.name,
        "metadata": {"tally_customer_id": customer.external_id[:500], "tally_organization": organization_slug},
        "tax_exempt": _TAX_EXEMPT.get(customer.tax_status, "none"),
    }
    email = customer.billing_email or customer.email
    if email:
        params["email"] = email
    if customer.country:
        address = {"line1": customer.address_line1, "line2": customer.address_line2, "city": customer.city,
                   "postal_code": customer.postal_code, "state": customer.region, "country": customer.country.upper()}
        params["address"] = {key: value for key, value in address.items() if value}
    return params


def _search_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def stripe_customer_sync(*, client: stripe.StripeClient, account: StripeAccount, customer: Customer,
                         search_first: bool = False, replacing: str = "") -> str:
    """The customer's Stripe id, after creating it or bringing its details up to date. Every write is keyed
    by our customer's id and the details sent, so a retry repeats nothing. `replacing`: the id of a Stripe
    customer deleted since, which a new key must not bring back (Stripe would answer the first creation)."""
    params = customer_params(customer, organization_slug=customer.organization.slug)
    kind = tax_id_type(customer.country) if customer.tax_id and customer.country else None
    digest = hashlib.sha256(json.dumps([params, kind, customer.tax_id], sort_keys=True).encode()).hexdigest()
    key = f"tally:{customer.organization_id}:customer:{customer.pk}:{digest[:24]}"
    link = StripeCustomer.objects.filter(customer=customer).first()
    if link is not None and link.account_id not in ("", account.account_id):
        link = None  # the organization connected another Stripe account since: a customer of its own there
    if link is not None and link.synced_hash == digest:
        return link.stripe_id
    stripe_id = link.stripe_id if link is not None else ""
    if not stripe_id and search_first:
        found = client.v1.customers.search(params={
            "query": f"metadata['tally_customer_id']:'{_search_quoted(customer.external_id)}'"})
        stripe_id = found.data[0].id if found.data else ""
    if stripe_id:
        try:
            client.v1.customers.update(stripe_id, params=cast(Any, params),
                                       options={"idempotency_key": f"{key}:update"})
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            replacing, stripe_id = stripe_id, ""  # deleted in Stripe's dashboard since: created again below
    if stripe_id:
        if kind:
            existing = client.v1.customers.tax_ids.list(stripe_id, params={"limit": 100})
            if not any(item.value == customer.tax_id for item in existing.data):
                client.v1.customers.tax_ids.create(stripe_id, params={"type": kind, "value": customer.tax_id},
                                                   options={"idempotency_key": f"{key}:tax_id"})
    else:
        create = {**params}
        if kind:
            create["tax_id_data"] = [{"type": kind, "value": customer.tax_id}]
        suffix = f":replacing:{replacing}" if replacing else ""
        stripe_id = client.v1.customers.create(params=cast(Any, create),
                                               options={"idempotency_key": f"{key}:create{suffix}"}).id
    StripeCustomer.objects.update_or_create(customer=customer, defaults={
        "organization_id": customer.organization_id, "stripe_id": stripe_id, "account_id": account.account_id,
        "synced_hash": digest, "synced_at": timezone.now()})
    return stripe_id
