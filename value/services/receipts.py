"""Value receipts: issued when a period is finalized (billing.finalize fires value.receipt_issue by name),
again when the period's figures change (a credit note, a late line), and on request (the command).

A receipt is sealed: its content is canonical JSON, hashed, chained to the customer's previous receipt
and signed. Issuing twice with the same figures returns the receipt already issued; different figures
issue a new receipt that supersedes it (the old one stands, marked superseded).
"""

import json
import logging
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.audience import Audience
from billing.models import Invoice
from billing.selectors.invoices import invoice_list
from billing.selectors.roi import period_figures_list, roi_get
from core.errors import DomainError, InvalidState
from core.periods import Period
from value import signing
from value.models import Baseline, SigningKey, ValueReceipt

RECEIPT_TYPE = "tally.value_receipt"
RECEIPT_FORMAT = 1
FROZEN = [Invoice.Status.FINALIZED, Invoice.Status.PAID]
logger = logging.getLogger(__name__)


def signing_key_current(*, organization_id: int) -> SigningKey:
    """The organization's latest key, created (version 1) on first use."""
    key = SigningKey.objects.filter(organization_id=organization_id).order_by("-version").first()
    if key is not None:
        return key
    public = signing.public_key_b64(signing.private_key(organization_id=organization_id, version=1))
    key, _ = SigningKey.objects.get_or_create(
        organization_id=organization_id, version=1,
        defaults={"public_key": public, "key_id": signing.key_id_of(public)},
    )
    return key


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings (never floats), dates as ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def receipt_figures(*, customer: Customer, period: Period) -> dict[str, Any]:
    """What a receipt seals of a period: the customer's own ROI figures (never the vendor's cost), each
    outcome type's value with the baseline version used, and the period's invoices."""
    report = roi_get(customer=customer, period=period)
    figures = period_figures_list(reports=[report])[0].visible(audience=Audience.CUSTOMER)
    basis: dict[str, dict[str, Any]] = figures.pop("value_basis", {})
    baseline_ids = [item["baseline"]["id"] for item in basis.values() if item.get("baseline")]
    baselines = Baseline.objects.in_bulk(baseline_ids)
    outcomes = []
    for code, item in sorted(basis.items()):
        used = baselines.get(item["baseline"]["id"]) if item.get("baseline") else None
        outcomes.append({
            "type": code, "count": item["count"], "unit_value": item["unit_value"], "value": item["value"],
            "basis": item["basis"],
            "baseline": None if used is None else {
                "version": used.version, "status": used.status, "effective_from": used.effective_from.strftime("%Y-%m"),
                "method": used.method, "minutes": used.minutes, "hourly_cost": used.hourly_cost,
                "flat_value": used.flat_value, "value_per_outcome": used.value_per_outcome,
                "approved_at": used.decided_at if used.is_approved else None,
            },
        })
    invoices = invoice_list(organization=customer.organization, customer=customer, period=period)
    return _plain({
        "currency": figures["currency"], "outcomes": outcomes, "outcome_count": sum(figures["outcomes"].values()),
        "value_delivered": figures["value_delivered"], "billed": figures["billed"],
        "billed_on_invoice": figures["billed_on_invoice"], "billed_later": figures["billed_later"],
        "credited": figures["credited"], "roi": figures["roi"],
        # Number and total, not the payment status: paying an invoice does not amend what it delivered.
        "invoices": [{"number": i.number, "total": i.total} for i in invoices if i.number],
    })


def receipt_issue(*, customer_id: int, period: Period, reason: str = ValueReceipt.Reason.ISSUED,
                  now: datetime | None = None) -> ValueReceipt:
    """The period's receipt: the standing one when the figures are unchanged, else a new one, chained to
    the customer's previous receipt and superseding the period's last one. The period's invoice must be
    finalized."""
    now = now or timezone.now()
    with transaction.atomic():
        # The customer row lock serialises issuers: one chain, sequence without gaps or forks.
        customer = Customer.objects.select_for_update().select_related("organization").get(pk=customer_id)
        if not Invoice.objects.filter(customer=customer, period_start=period.start, status__in=FROZEN).exists():
            raise InvalidState(f"{period.label} of {customer.external_id!r} is not finalized: a receipt seals a "
                               "finalized period.", field="period")
        figures = receipt_figures(customer=customer, period=period)
        last = ValueReceipt.objects.filter(customer=customer).order_by("-sequence").first()
        standing = (ValueReceipt.objects.filter(customer=customer, period_start=period.start)
                    .order_by("-sequence").first())
        if standing is not None:
            if signing.canonical_json(receipt_content(standing)["figures"]) == signing.canonical_json(figures):
                return standing
            reason = ValueReceipt.Reason.AMENDED
        key = signing_key_current(organization_id=customer.organization_id)
        sequence = (last.sequence if last else 0) + 1
        content = signing.canonical_json({
            "type": RECEIPT_TYPE, "format": RECEIPT_FORMAT,
            "organization": {"name": customer.organization.name, "slug": customer.organization.slug},
            "customer": {"external_id": customer.external_id, "name": customer.name},
            "period": period.label, "sequence": sequence, "reason": str(reason),
            "previous_hash": last.content_hash if last else "",
            "supersedes": standing.content_hash if standing else None,
            "issued_at": now.isoformat(), "key_id": key.key_id, "figures": figures,
        })
        private = signing.private_key(organization_id=customer.organization_id, version=key.version)
        return ValueReceipt.objects.create(
            organization_id=customer.organization_id, customer=customer, period_start=period.start,
            sequence=sequence, reason=reason, supersedes=standing, content=content,
            content_hash=signing.sha256_hex(content), previous_hash=last.content_hash if last else "",
            signature=signing.sign(content, key=private), signing_key=key,
            share_token=secrets.token_urlsafe(32), issued_at=now,
        )


def receipt_content(receipt: ValueReceipt) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(receipt.content)
    return content


def receipts_issue_for_invoice(*, invoice_id: int) -> ValueReceipt | None:
    """The receipt of a finalized invoice's period (the on-commit task of billing.finalize)."""
    invoice = Invoice.objects.filter(pk=invoice_id, status__in=FROZEN).first()
    if invoice is None:
        return None
    try:
        return receipt_issue(customer_id=invoice.customer_id, period=Period(invoice.period_start),
                             reason=ValueReceipt.Reason.FINALIZED)
    except DomainError as exc:  # a period without figures: finalizing stands; the command can issue later
        logger.warning("No value receipt for invoice %s: %s", invoice_id, exc.message)
        return None


def receipts_issue_all(*, organization: Organization, period: Period | None = None) -> list[ValueReceipt]:
    """Every finalized period's receipt (or one period's), issued or amended where the figures changed:
    the command's work, safe to run again."""
    invoices = Invoice.objects.filter(organization=organization, status__in=FROZEN).order_by("period_start", "pk")
    if period is not None:
        invoices = invoices.filter(period_start=period.start)
    return [receipt_issue(customer_id=i.customer_id, period=Period(i.period_start)) for i in invoices]
