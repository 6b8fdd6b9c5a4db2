"""Payments against finalized invoices: an append-only ledger (InvoicePayment) whose sum is the
invoice's amount_paid; the invoice moves to paid when nothing is left to pay. And the payment link.

These write only the payment columns the frozen-invoice trigger (billing migration 0010) lets change on
a finalized invoice: amount_paid, payment_url, and status/paid_at with the move to paid.
"""

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from billing.models import Invoice, InvoicePayment
from billing.webhook_events import invoice_event_emit
from core.errors import DomainError, InvalidState
from core.money import money_check
from webhooks.events import EventType

ZERO = Decimal(0)


def invoice_payment_record(*, invoice: Invoice, amount: Decimal, paid_at: datetime, source: str,
                           reference: str = "") -> Invoice:
    """Add a payment of `amount` (the invoice's currency) to a finalized invoice; paid in full, it moves
    to paid at `paid_at`. The same non-blank (source, reference) is recorded once, so a retried
    webhook or import adds nothing. More than the amount due is refused."""
    if not source:
        raise DomainError("A payment needs its source (manual, stripe, bank_transfer …).", field="source")
    with transaction.atomic():
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if reference and InvoicePayment.objects.filter(invoice=current, source=source, reference=reference).exists():
            return current
        money_check(amount, current.currency, field="amount")
        if amount <= 0:
            raise DomainError("A payment must be a positive amount.", field="amount")
        if current.status != Invoice.Status.FINALIZED:
            raise InvalidState(f"A {current.status} invoice takes no payment.", field="status")
        if amount > current.amount_due:
            raise DomainError(f"{amount} is more than the {current.amount_due} {current.currency} due.",
                              field="amount")
        InvoicePayment.objects.create(organization_id=current.organization_id, invoice=current, amount=amount,
                                      currency=current.currency, paid_at=paid_at, source=source, reference=reference)
        current.amount_paid += amount
        fields = ["amount_paid", "updated_at"]
        if current.amount_due <= 0:
            current.status, current.paid_at = Invoice.Status.PAID, paid_at
            fields += ["status", "paid_at"]
        current.save(update_fields=fields)
        if current.status == Invoice.Status.PAID:
            invoice_event_emit(invoice=current, type=EventType.INVOICE_PAID)
        return current


def invoice_paid_in_full(*, invoice: Invoice, paid_at: datetime | None = None, source: str = "manual",
                         reference: str = "") -> Invoice:
    """Record what is left to pay as one payment (an invoice with nothing due just moves to paid)."""
    paid_at = paid_at or timezone.now()
    with transaction.atomic():
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if current.status == Invoice.Status.PAID:
            return current
        if current.status != Invoice.Status.FINALIZED:
            raise InvalidState(f"A {current.status} invoice cannot be paid.", field="status")
        if current.amount_due > 0:
            return invoice_payment_record(invoice=current, amount=current.amount_due, paid_at=paid_at,
                                          source=source, reference=reference)
        current.status, current.paid_at = Invoice.Status.PAID, paid_at
        current.save(update_fields=["status", "paid_at", "updated_at"])
        invoice_event_emit(invoice=current, type=EventType.INVOICE_PAID)
        return current


def invoice_payment_link_set(*, invoice: Invoice, url: str) -> Invoice:
    """Where the customer pays a finalized invoice (a Stripe hosted invoice page, a bank's link); blank
    removes it."""
    if url:
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError as exc:
            raise DomainError(f"{url!r} is not an http(s) URL.", field="payment_url") from exc
    with transaction.atomic():
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if current.payment_url == url:
            return current
        if current.status != Invoice.Status.FINALIZED:
            raise InvalidState(f"A {current.status} invoice takes no payment link.", field="status")
        current.payment_url = url
        current.save(update_fields=["payment_url", "updated_at"])
        return current
