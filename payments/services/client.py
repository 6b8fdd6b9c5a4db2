"""The one place a StripeClient is built, and Stripe's errors sorted into worth-retrying or not."""

from dataclasses import dataclass

import stripe
from django.conf import settings

from core.crypto import secret_decrypt
from payments.models import StripeAccount

# Seconds a Stripe call may take before the client gives up (the task then retries with the same keys).
STRIPE_TIMEOUT = 30


def stripe_client_for_key(secret_key: str, *, api_base: str = "") -> stripe.StripeClient:
    """The official SDK with this key, at Stripe, or at the STRIPE_API_BASE setting (tests) or the account's
    own api_base (the demo): the stand-in. The SDK's own network retries reuse the request's
    Idempotency-Key, so they never double a write."""
    base = settings.STRIPE_API_BASE or api_base
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": base} if base else None,
        max_network_retries=1,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT),
    )


def stripe_client(account: StripeAccount) -> stripe.StripeClient:
    return stripe_client_for_key(secret_decrypt(account.secret_key_encrypted), api_base=account.api_base)


@dataclass(frozen=True)
class StripeProblem:
    """A failed Stripe call as we keep it: Stripe's message and code, and whether trying again may help."""

    message: str
    code: str
    transient: bool


def stripe_problem(exc: stripe.StripeError) -> StripeProblem:
    """Network trouble, rate limits, Stripe's 5xx and a concurrent use of an idempotency key (409) pass;
    a refused request (4xx: a bad key, a bad parameter) fails the same way until someone fixes it."""
    status = exc.http_status or 0
    transient = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status >= 500 or status == 409
    message = exc.user_message or str(exc) or type(exc).__name__
    return StripeProblem(message=message[:1000], code=(exc.code or type(exc).__name__)[:64], transient=transient)
