"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the keys of the
SECRETS_ENCRYPTION_KEYS setting (PAYMENTS_ENCRYPTION_KEYS, its earlier name, still read), the first
encrypting and any decrypting, so keys rotate without a migration. Without that setting (the demo), one
key is derived from SECRET_KEY by HKDF.

What is kept with it: each organization's Stripe keys (payments) and each webhook endpoint's signing
secret (webhooks). They leave it in clear only to call Stripe or to sign a delivery; pages show hints.
"""

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from core.errors import DomainError


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tally.payments", info=b"stripe-secrets")
        keys = (base64.urlsafe_b64encode(derived.derive(secret_key.encode())).decode(),)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ValueError("SECRETS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), "
                         "comma-separated") from exc


def _cipher() -> MultiFernet:
    return _fernet(tuple(settings.SECRETS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def secret_encrypt(value: str) -> str:
    return _cipher().encrypt(value.encode()).decode()


def secret_decrypt(token: str, *, what: str = "Stripe secret", remedy: str = "connect Stripe again",
                   field: str = "secret_key") -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DomainError(f"The stored {what} cannot be decrypted with the configured SECRETS_ENCRYPTION_KEYS; "
                          f"{remedy}.", field=field) from exc


def secret_hint(value: str) -> str:
    """What a page may show of a secret: its kind and last four characters (`sk_live_…abcd`)."""
    parts = value.split("_")
    kind = parts[:2] if len(parts) > 2 and parts[1] in {"test", "live"} else parts[:1] if len(parts) > 1 else []
    prefix = "".join(f"{part}_" for part in kind)
    return f"{prefix}…{value[-4:]}" if len(value) >= len(prefix) + 12 else f"{prefix}…"
