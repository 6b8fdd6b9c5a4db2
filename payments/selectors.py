"""Reads of the payments app: an invoice's Stripe state, and the invoices whose Stripe state and ours
disagree (the reconciliation page), each with the reasons in words."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from billing.models import Invoice
from core.money import format_money
from payments.models import CreditNotePush, InvoicePush, PushStatus, StripeAccount, StripeEvent
from payments.services.push import from_minor, to_minor

# A push still pending after this long has lost its task (or Stripe has been away that long).
PUSH_STALE_AFTER = timedelta(minutes=30)


@dataclass
class Disagreement:
    invoice: Invoice
    push: InvoicePush | None
    reasons: list[str] = field(default_factory=list)

    @property
    def can_retry(self) -> bool:
        return self.invoice.status == Invoice.Status.FINALIZED and (
            self.push is None or self.push.status != PushStatus.PUSHED)


def stripe_account_of(organization: Organization) -> StripeAccount | None:
    return StripeAccount.objects.filter(organization=organization).first()


def invoice_push_of(*, organization: Organization, invoice: Invoice) -> InvoicePush | None:
    return InvoicePush.objects.filter(organization=organization, invoice=invoice).first()


def push_reasons(push: InvoicePush, invoice: Invoice) -> list[str]:
    """Why this invoice's Stripe state and ours disagree; empty when they agree."""
    now, currency = timezone.now(), invoice.currency
    if push.status == PushStatus.FAILED:
        return [f"Push to Stripe failed: {push.last_error or 'no message'}"]
    if push.status == PushStatus.PENDING:
        if push.last_error:
            return [f"Push to Stripe retrying after: {push.last_error}"]
        if now - push.created_at > PUSH_STALE_AFTER:
            return [f"Push to Stripe pending since {push.created_at:%Y-%m-%d %H:%M} UTC"]
        return []
    reasons = []
    remote, ours = push.remote_status, invoice.status
    if remote == "paid" and ours == Invoice.Status.FINALIZED and invoice.amount_due > 0:
        reasons.append(f"Paid in Stripe; {format_money(invoice.amount_due, currency)} still due here")
    if ours == Invoice.Status.PAID and remote == "open":
        remaining = from_minor(push.remote_amount_remaining or 0, currency)
        reasons.append(f"Paid here; open in Stripe with {format_money(remaining, currency)} remaining "
                       "(the customer may pay twice)")
    if ours == Invoice.Status.VOID and remote in {"open", "paid", "uncollectible"}:
        reasons.append(f"Void here; {remote} in Stripe")
    if push.remote_note and ours != Invoice.Status.VOID:
        reasons.append(push.remote_note)
    if push.remote_total is not None and push.remote_total != to_minor(invoice.total, currency):
        tax = " (Stripe Tax computed the tax there)" if push.automatic_tax else ""
        reasons.append(f"Total differs: {format_money(from_minor(push.remote_total, currency), currency)} in Stripe, "
                       f"{format_money(invoice.total, currency)} here{tax}")
    if push.remote_amount_paid is not None and from_minor(push.remote_amount_paid, currency) != invoice.amount_paid:
        reasons.append(f"Amount paid differs: {format_money(from_minor(push.remote_amount_paid, currency), currency)} "
                       f"in Stripe, {format_money(invoice.amount_paid, currency)} here")
    if push.payment_failed_at and ours == Invoice.Status.FINALIZED and remote == "open":
        reasons.append(f"Last payment attempt failed on {push.payment_failed_at:%Y-%m-%d}: {push.payment_failure}")
    return reasons


def reconciliation_list(*, organization: Organization) -> list[Disagreement]:
    """Every invoice of the organization whose Stripe state and ours disagree, newest first: pushes that
    failed or stalled, states that differ, and invoices finalized since Stripe was connected that never
    reached it."""
    account = stripe_account_of(organization)
    found: list[Disagreement] = []
    notes: dict[int, list[str]] = defaultdict(list)
    for note_push in (CreditNotePush.objects.filter(organization=organization).exclude(status=PushStatus.PUSHED)
                      .exclude(last_error="").select_related("credit_note").order_by("pk")):
        notes[note_push.credit_note.invoice_id].append(
            f"Credit note {note_push.credit_note.number} not in Stripe: {note_push.last_error}")
    pushes = (InvoicePush.objects.filter(organization=organization)
              # Pushed, paid in Stripe and paid here: agreed and settled, the bulk of a long history; skipped in SQL.
              .filter(~Q(status=PushStatus.PUSHED) | ~Q(remote_status="paid") | ~Q(invoice__status=Invoice.Status.PAID)
                      | Q(invoice_id__in=list(notes)))
              .select_related("invoice__customer").order_by("-invoice__finalized_at", "-pk"))
    for push in pushes:
        reasons = push_reasons(push, push.invoice) + notes.get(push.invoice_id, [])
        if reasons:
            found.append(Disagreement(push.invoice, push, reasons))
    if account is not None:
        never = (Invoice.objects.filter(organization=organization, status=Invoice.Status.FINALIZED,
                                        finalized_at__gte=account.connected_at, stripe_push__isnull=True)
                 .select_related("customer").order_by("-finalized_at"))
        found += [Disagreement(invoice, None, ["Finalized since Stripe was connected, never pushed"])
                  for invoice in never]
    return found


def stripe_events_recent(*, organization: Organization, limit: int = 20) -> list[StripeEvent]:
    return list(StripeEvent.objects.filter(organization=organization).select_related("invoice")
                .order_by("-received_at", "-pk")[:limit])
