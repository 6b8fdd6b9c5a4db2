"""Connecting an organization's Stripe account: the key is checked with a real call before it is kept,
encrypted; the webhook signing secret likewise. Neither is ever returned in clear."""

import re

import stripe
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from core.crypto import secret_encrypt, secret_hint
from core.errors import DomainError
from payments.models import StripeAccount
from payments.services.client import stripe_client_for_key, stripe_problem

_SECRET_KEY = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$")
_WEBHOOK_SECRET = re.compile(r"^whsec_[A-Za-z0-9_]{8,}$")


def stripe_connect(*, organization: Organization, secret_key: str, webhook_secret: str = "",
                   automatic_tax: bool | None = None, api_base: str | None = None) -> StripeAccount:
    """Check `secret_key` against Stripe (GET /v1/account) and keep it, encrypted, with the webhook signing
    secret. A blank webhook secret keeps the one stored; a refused key changes nothing. `api_base` (code
    only: the demo's stand-in) replaces Stripe's address for this organization; None keeps the stored one."""
    secret_key, webhook_secret = secret_key.strip(), webhook_secret.strip()
    if not _SECRET_KEY.match(secret_key):
        raise DomainError("A Stripe secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_.",
                          field="secret_key")
    if webhook_secret and not _WEBHOOK_SECRET.match(webhook_secret):
        raise DomainError("A webhook signing secret starts with whsec_ (Stripe shows it on the endpoint's page).",
                          field="webhook_secret")
    stored = StripeAccount.objects.filter(organization=organization).values_list("api_base", flat=True).first()
    base = (stored or "") if api_base is None else api_base
    try:
        remote = stripe_client_for_key(secret_key, api_base=base).v1.accounts.retrieve_current()
    except stripe.StripeError as exc:
        raise DomainError(f"Stripe refused the key: {stripe_problem(exc).message}", field="secret_key") from exc
    now = timezone.now()
    with transaction.atomic():
        account = StripeAccount.objects.select_for_update().filter(organization=organization).first()
        if account is None:
            if not webhook_secret:
                raise DomainError("The webhook signing secret is needed to connect (Stripe shows it once the "
                                  "endpoint is added).", field="webhook_secret")
            account = StripeAccount(organization=organization, connected_at=now)
        account.secret_key_encrypted, account.secret_key_hint = secret_encrypt(secret_key), secret_hint(secret_key)
        if webhook_secret:
            account.webhook_secret_encrypted = secret_encrypt(webhook_secret)
            account.webhook_secret_hint = secret_hint(webhook_secret)
        account.account_id = remote.id or ""
        profile = getattr(remote, "business_profile", None)
        account.account_name = (getattr(profile, "name", None) or getattr(remote, "email", None) or "")[:200]
        account.livemode = secret_key.split("_")[1] == "live"
        if automatic_tax is not None:
            account.automatic_tax = automatic_tax
        account.api_base = base
        account.checked_at = now
        account.save()
        return account


def stripe_settings_update(*, organization: Organization, automatic_tax: bool) -> StripeAccount:
    with transaction.atomic():
        account = StripeAccount.objects.select_for_update().filter(organization=organization).first()
        if account is None:
            raise DomainError("Connect Stripe first.", field="secret_key")
        account.automatic_tax = automatic_tax
        account.save(update_fields=["automatic_tax", "updated_at"])
        return account


def stripe_disconnect(*, organization: Organization) -> None:
    """Forget the keys. Pushed invoices keep their Stripe ids; new invoices are no longer pushed."""
    StripeAccount.objects.filter(organization=organization).delete()
