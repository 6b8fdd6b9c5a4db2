"""Signatures that prove who speaks about an outcome: a verification source's HMAC over its callback,
and the signed one-click link a customer's email carries.

Callbacks are signed like Stripe's webhooks: the header `Tally-Signature: t=<unix seconds>,v1=<hex>`
carries the time and HMAC-SHA256(secret, "<t>.<raw body>"). A signature older or newer than
`CALLBACK_TOLERANCE_SECONDS` is refused, so a captured callback cannot be replayed later; within the
tolerance a replay is recognised by its delivery id and changes nothing.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing

from core.errors import DomainError, ErrorCode

SIGNATURE_HEADER = "Tally-Signature"
CALLBACK_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "vsec_"
LINK_SALT = "outcomes.confirmation-link"


class SignatureRefused(DomainError):
    """A callback whose signature is missing, malformed, forged or stale: 401, before its body is read."""

    code = ErrorCode.INVALID
    status = 401

    def as_dict(self) -> dict[str, object]:
        return {"code": "authentication_failed", "detail": self.message, "errors": {SIGNATURE_HEADER: self.message}}


def source_secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def callback_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header value a source sends with `body` at `timestamp` (for sources, tests and docs)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def callback_signature_check(*, secret: str, header: str | None, body: bytes, now: datetime) -> int:
    """The signed timestamp when `header` signs `body` with `secret` within the tolerance, else SignatureRefused."""
    if not header:
        raise SignatureRefused(f"The {SIGNATURE_HEADER} header is missing: sign the body (see docs/proof.md).")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureRefused(f"{SIGNATURE_HEADER} must read t=<unix seconds>,v1=<hex HMAC-SHA256>.") from None
    if not parts.get("v1"):
        raise SignatureRefused(f"{SIGNATURE_HEADER} carries no v1 signature.")
    age = int(now.timestamp()) - timestamp
    if abs(age) > CALLBACK_TOLERANCE_SECONDS:
        raise SignatureRefused(
            f"The signature's timestamp is {abs(age)} s {'old' if age > 0 else 'in the future'}; callbacks are "
            f"accepted within {CALLBACK_TOLERANCE_SECONDS} s of their signing (replays are refused)."
        )
    expected = callback_signature(secret=secret, timestamp=timestamp, body=body).partition("v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts["v1"]):
        raise SignatureRefused("The signature does not match the body and this source's secret.")
    return timestamp


@dataclass(frozen=True)
class LinkClaim:
    """What a one-click confirmation link names: one outcome of one customer of one organization."""

    organization_id: int
    customer_id: int
    event_id: int


def confirmation_link_token(*, organization_id: int, customer_id: int, event_id: int) -> str:
    return signing.dumps([organization_id, customer_id, event_id], salt=LINK_SALT, compress=True)


def confirmation_link_read(token: str) -> LinkClaim:
    """The claim of a link still within `OUTCOME_CONFIRMATION_LINK_DAYS`; a tampered or expired one is refused."""
    max_age = 86400 * getattr(settings, "OUTCOME_CONFIRMATION_LINK_DAYS", 14)
    try:
        organization_id, customer_id, event_id = signing.loads(token, salt=LINK_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise DomainError("This confirmation link has expired; ask for a new one or log in to the portal.",
                          field="token") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise DomainError("This confirmation link is not valid.", field="token") from exc
    return LinkClaim(int(organization_id), int(customer_id), int(event_id))
