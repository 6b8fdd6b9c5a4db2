"""Reading and verifying value receipts. Verification recomputes everything from the stored rows: the
content's hash, the signature with the public key the receipt names, and the customer's chain up to it."""

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from accounts.models import Customer, Organization
from core.errors import NotFound
from value import signing
from value.models import ValueReceipt


def receipt_list(*, organization: Organization, customer: Customer | None = None) -> QuerySet[ValueReceipt]:
    """Newest first, each with whether a later receipt supersedes it."""
    receipts = ValueReceipt.objects.filter(organization=organization)
    if customer is not None:
        receipts = receipts.filter(customer=customer)
    return receipts.select_related("customer", "superseded_by").order_by("-period_start", "customer__name", "-sequence")


def receipt_get(*, organization: Organization, receipt_id: int, customer: Customer | None = None) -> ValueReceipt:
    receipts = ValueReceipt.objects.filter(organization=organization, pk=receipt_id)
    if customer is not None:
        receipts = receipts.filter(customer=customer)
    receipt = receipts.select_related("customer", "signing_key", "organization", "superseded_by").first()
    if receipt is None:
        raise NotFound(f"No receipt {receipt_id}.", field="receipt")
    return receipt


def receipt_by_token(*, token: str) -> ValueReceipt:
    """The receipt a share link names; the token is the only key (unguessable, 256 bits)."""
    receipt = (ValueReceipt.objects.filter(share_token=token)
               .select_related("customer", "signing_key", "organization", "superseded_by").first())
    if receipt is None or not token:
        raise NotFound("No receipt at this link.", field="token")
    return receipt


@dataclass
class ReceiptCheck:
    """What verification found. `ok` only when the hash, the signature and the whole chain hold."""

    hash_ok: bool = False
    signature_ok: bool = False
    chain_ok: bool = False
    chain_length: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.hash_ok and self.signature_ok and self.chain_ok


def _check_one(receipt: ValueReceipt, previous: ValueReceipt | None, problems: list[str]) -> tuple[bool, bool]:
    label = f"receipt #{receipt.sequence} ({receipt.period})"
    hash_ok = signing.sha256_hex(receipt.content) == receipt.content_hash
    if not hash_ok:
        problems.append(f"{label}: its content does not hash to its recorded SHA-256: it was altered.")
    signature_ok = signing.signature_valid(receipt.content, signature=receipt.signature,
                                           public_key=receipt.signing_key.public_key)
    if not signature_ok:
        problems.append(f"{label}: the signature does not match the content and the key {receipt.signing_key.key_id}.")
    try:
        content = json.loads(receipt.content)
    except ValueError:
        problems.append(f"{label}: the content is not JSON.")
        return hash_ok, signature_ok
    expected_previous = previous.content_hash if previous else ""
    if content.get("previous_hash") != expected_previous or receipt.previous_hash != expected_previous:
        problems.append(f"{label}: it does not link to the receipt before it in the chain.")
    if content.get("sequence") != receipt.sequence or content.get("period") != receipt.period or \
            content.get("customer", {}).get("external_id") != receipt.customer.external_id:
        problems.append(f"{label}: its record does not match its sealed content.")
    if signing.canonical_json(content) != receipt.content:
        problems.append(f"{label}: its content is not in canonical form.")
    return hash_ok, signature_ok


def receipt_verify(receipt: ValueReceipt) -> ReceiptCheck:
    """Check the receipt and every receipt before it in its customer's chain (a few dozen at most)."""
    chain = list(
        ValueReceipt.objects.filter(customer_id=receipt.customer_id, sequence__lte=receipt.sequence)
        .select_related("signing_key", "customer").order_by("sequence")
    )
    check = ReceiptCheck(chain_length=len(chain))
    chain_problems: list[str] = []
    previous: ValueReceipt | None = None
    for position, item in enumerate(chain, start=1):
        problems: list[str] = []
        if item.sequence != position:
            problems.append(f"receipt #{position} is missing from the chain.")
        hash_ok, signature_ok = _check_one(item, previous, problems)
        if item.pk == receipt.pk:
            check.hash_ok, check.signature_ok = hash_ok, signature_ok
            check.problems.extend(p for p in problems if "hash" in p or "signature" in p)
            chain_problems.extend(p for p in problems if "hash" not in p and "signature" not in p)
        else:
            chain_problems.extend(problems)
        previous = item
    check.chain_ok = not chain_problems
    check.problems.extend(chain_problems)
    return check


def receipt_document(receipt: ValueReceipt) -> dict[str, Any]:
    """The downloadable JSON: the exact signed content (a string, so its bytes survive any JSON tool),
    its hash, the signature and the public key, enough to verify it offline."""
    return {
        "content": receipt.content,
        "content_hash": receipt.content_hash,
        "hash_algorithm": "SHA-256 of the UTF-8 bytes of content",
        "signature": receipt.signature,
        "signature_algorithm": signing.ALGORITHM,
        "public_key": receipt.signing_key.public_key,
        "public_key_pem": signing.public_key_pem(receipt.signing_key.public_key),
        "key_id": receipt.signing_key.key_id,
        "previous_hash": receipt.previous_hash,
    }
