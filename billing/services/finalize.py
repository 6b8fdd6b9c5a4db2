"""Finalization (numbered, frozen), payment and voiding of invoices."""

from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, Organization, User
from billing.models import CreditLedgerEntry, Invoice, InvoiceLine
from billing.selectors.invoices import invoice_due_list
from billing.services.document import invoice_issue_set
from billing.services.payments import invoice_paid_in_full
from billing.services.reconcile import reconcile_customer
from billing.services.sequences import sequence_next
from billing.services.wallet import wallet_draw_down
from billing.webhook_events import invoice_event_emit
from core.errors import InvalidState
from core.periods import Period
from outcomes.enums import OutcomeStatus
from outcomes.services import outcome_events_move
from webhooks.events import EventType

BILLABLE = [OutcomeStatus.PENDING, OutcomeStatus.VERIFIED]
RECEIPT_TASK = "value.receipt_issue"
STRIPE_PUSH_TASK = "payments.push_invoice"  # a no-op for an organization without Stripe
STRIPE_VOID_TASK = "payments.void_invoice"  # voids the invoice's Stripe invoice, if it has one


def _event_ids(lines: list[InvoiceLine], kind: str) -> list[int]:
    return [line.outcome_event_id for line in lines if line.kind == kind and line.outcome_event_id]


def invoice_finalize(*, invoice: Invoice, acting_user: User | None = None, now: datetime | None = None) -> Invoice:
    """Refresh the draft one last time, number it, draw down prepaid credits, mark its outcomes billed
    and freeze it. Finalizing a finalized invoice returns it unchanged."""
    now = now or timezone.now()
    actor = f"user:{acting_user.username}" if acting_user else "system"
    with transaction.atomic():
        Customer.objects.select_for_update().get(pk=invoice.customer_id)
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if current.status != Invoice.Status.DRAFT:
            return current
        # Never finalize on an earlier view of the events than the draft already showed.
        cutoff = max(now, current.cutoff)
        current = reconcile_customer(customer_id=current.customer_id, period=Period(current.period_start),
                                     cutoff=cutoff, finalizing=True)
        if current.credits_applied:
            paid = wallet_draw_down(invoice=current, amount=current.credits_applied, at=cutoff)
            if paid != current.credits_applied:
                raise InvalidState("Prepaid balance changed while finalizing; retry.", field="credits")
        lines = list(current.lines.all())
        outcome_events_move(
            organization_id=current.organization_id, event_ids=_event_ids(lines, InvoiceLine.Kind.OUTCOME),
            from_statuses=BILLABLE, to_status=OutcomeStatus.BILLED,
            reason=f"billed on the invoice of {current.period}", actor_label=actor,
        )
        outcome_events_move(
            organization_id=current.organization_id, event_ids=_event_ids(lines, InvoiceLine.Kind.CREDIT),
            from_statuses=[OutcomeStatus.REVERSED], to_status=OutcomeStatus.CREDITED,
            reason=f"credited on the invoice of {current.period}", actor_label=actor,
        )
        current.number = sequence_next(organization_id=current.organization_id, kind="invoice")
        current.status = Invoice.Status.FINALIZED
        current.finalized_at = now
        issued = invoice_issue_set(invoice=current, at=now)  # issue and due dates, parties (billing.services.document)
        current.save(update_fields=["number", "status", "finalized_at", "updated_at", *issued])
        invoice_event_emit(invoice=current, type=EventType.INVOICE_FINALIZED)
        # The value app seals the period's value receipt; by name, as billing may not import it.
        invoice_id = current.pk
        transaction.on_commit(lambda: current_app.tasks[RECEIPT_TASK].delay(invoice_id))
        # Collection: payments pushes it to the organization's Stripe, by name, on the payments queue.
        transaction.on_commit(lambda: current_app.tasks[STRIPE_PUSH_TASK].delay(invoice_id))
        return current


def invoice_mark_paid(*, invoice: Invoice, paid_at: datetime | None = None) -> Invoice:
    # What is left to pay is recorded as a manual payment, so amount_paid and amount due agree with the status.
    return invoice_paid_in_full(invoice=invoice, paid_at=paid_at, source="manual")


def _standing_credits(invoice: Invoice) -> list[str]:
    """The credit notes of this invoice and the frozen invoices whose credit lines credit its lines."""
    notes = [note.number for note in invoice.credit_notes.order_by("pk")]
    crediting = (
        Invoice.objects.filter(lines__credited_line__invoice=invoice)
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .order_by("pk").values_list("number", flat=True).distinct()
    )
    return notes + [f"credit lines of {number}" for number in crediting]


def invoice_void(*, invoice: Invoice, acting_user: User | None = None) -> Invoice:
    """Cancel a finalized, unpaid invoice. Its outcomes become billable again (as prior-period lines
    of the next draft) and its prepaid drawdown goes back to the wallet.

    An invoice that was credited (a credit note, or a credit line on a later frozen invoice) cannot be
    voided: its outcomes would be billed again while the credit stood, so the customer would be owed
    twice. Credits are final, as the invoice they correct was."""
    actor = f"user:{acting_user.username}" if acting_user else "system"
    with transaction.atomic():
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if current.status == Invoice.Status.VOID:
            return current
        if current.status != Invoice.Status.FINALIZED:
            raise InvalidState(f"A {current.status} invoice cannot be voided.", field="status")
        standing = _standing_credits(current)
        if standing:
            raise InvalidState(f"Invoice {current.number} was credited ({', '.join(standing)}) and cannot be "
                               "voided; credit its remaining amount instead.", field="credit_notes")
        lines = list(current.lines.all())
        outcome_events_move(
            organization_id=current.organization_id, event_ids=_event_ids(lines, InvoiceLine.Kind.OUTCOME),
            from_statuses=[OutcomeStatus.BILLED], to_status=OutcomeStatus.VERIFIED,
            reason=f"invoice {current.number} voided", actor_label=actor,
        )
        outcome_events_move(
            organization_id=current.organization_id, event_ids=_event_ids(lines, InvoiceLine.Kind.CREDIT),
            from_statuses=[OutcomeStatus.CREDITED], to_status=OutcomeStatus.REVERSED,
            reason=f"invoice {current.number} voided", actor_label=actor,
        )
        for entry in CreditLedgerEntry.objects.filter(invoice=current, kind=CreditLedgerEntry.Kind.DRAWDOWN):
            CreditLedgerEntry.objects.create(organization_id=entry.organization_id, grant=entry.grant,
                                             kind=CreditLedgerEntry.Kind.REFUND, amount=-entry.amount, invoice=current)
        current.status, current.voided_at = Invoice.Status.VOID, timezone.now()
        current.save(update_fields=["status", "voided_at", "updated_at"])
        voided_id = current.pk
        transaction.on_commit(lambda: current_app.tasks[STRIPE_VOID_TASK].delay(voided_id))
        return current


def invoices_finalize_due(*, now: datetime | None = None) -> int:
    """Finalize every draft whose period ended more than its organization's grace days ago."""
    now = now or timezone.now()
    finalized = 0
    for organization in Organization.objects.order_by("pk"):
        for invoice in invoice_due_list(organization=organization, now=now):
            invoice_finalize(invoice=invoice, now=now)
            finalized += 1
    return finalized
