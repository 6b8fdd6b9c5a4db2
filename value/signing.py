"""Sealing value receipts: canonical JSON, its SHA-256, and Ed25519 signatures by the organization's key.

The private key is never stored. It is derived (HKDF-SHA256) from the server's signing secret
(`VALUE_SIGNING_SECRET`, else `SECRET_KEY`), the organization's id and the key's version, so it exists
only in memory while a receipt is signed; the public key is stored (SigningKey) and published on every
receipt page. Rotating the secret means a new key version: old receipts still verify with the public key
they name.

Canonical JSON (what is hashed and signed): `json.dumps(data, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` encoded as UTF-8. Money and ratios are strings in it, never floats.
"""

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

ALGORITHM = "Ed25519"
_SALT = b"tally value receipts"


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _secret() -> bytes:
    secret = getattr(settings, "VALUE_SIGNING_SECRET", "") or settings.SECRET_KEY
    return str(secret).encode()


def private_key(*, organization_id: int, version: int) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                info=f"organization:{organization_id}:v{version}".encode()).derive(_secret())
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id_of(public_key: str) -> str:
    return "ed25519:" + hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def public_key_pem(public_key: str) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), for `openssl pkeyutl -verify`."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(content: str, *, key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(content.encode())).decode()


def signature_valid(content: str, *, signature: str, public_key: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(base64.b64decode(signature), content.encode())
    except (InvalidSignature, ValueError):
        return False
    return True
