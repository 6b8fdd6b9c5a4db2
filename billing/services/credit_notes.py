"""Credit notes: the only way to correct a finalized invoice. Their own gapless sequence."""

from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.db import transaction

from accounts.models import Customer
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.services.sequences import sequence_next
from billing.webhook_events import credit_note_created_emit
from core.errors import DomainError, InvalidState
from core.money import money_check
from outcomes.enums import OutcomeStatus
from outcomes.services import outcome_events_move

# Stripe collection (payments) mirrors each credit note on the invoice's Stripe invoice; by name, as billing
# may not import payments. A no-op for an organization without Stripe or an invoice never pushed.
STRIPE_CREDIT_NOTE_TASK = "payments.push_credit_note"
# A credit note credits an outcome whatever became of it after billing (reversed, disputed, or still billed).
CREDITABLE = [status for status in OutcomeStatus if status != OutcomeStatus.CREDITED]


@dataclass(frozen=True)
class CreditSpec:
    amount: Decimal
    description: str
    invoice_line: InvoiceLine | None = None


def _credited_by(line: InvoiceLine) -> str | None:
    """What already credits this line or its outcome: a credit note, or a credit line on an invoice that
    is not void (a draft's too: the next invoice already carries the credit). The database refuses a
    second standing credit whatever the path (migration 0007); this names the first for a clear 409."""
    notes = CreditNoteLine.objects.filter(invoice_line=line)
    credits = InvoiceLine.objects.filter(kind=InvoiceLine.Kind.CREDIT, credited_line=line)
    if line.outcome_event_id is not None:
        notes = notes | CreditNoteLine.objects.filter(outcome_event_id=line.outcome_event_id)
        credits = credits | InvoiceLine.objects.filter(kind=InvoiceLine.Kind.CREDIT,
                                                       outcome_event_id=line.outcome_event_id)
    note = notes.select_related("credit_note").first()
    if note is not None:
        return f"credit note {note.credit_note.number}"
    credit = credits.exclude(invoice__status=Invoice.Status.VOID).select_related("invoice").first()
    if credit is None:
        return None
    if credit.invoice.status == Invoice.Status.DRAFT:
        return f"a credit line on the draft invoice of {credit.invoice.period}"
    return f"a credit line on invoice {credit.invoice.number}"


def credit_note_create(*, invoice: Invoice, reason: str, items: list[CreditSpec]) -> CreditNote:
    if not items:
        raise DomainError("A credit note needs at least one line.", field="lines")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status not in {Invoice.Status.FINALIZED, Invoice.Status.PAID}:
            raise InvalidState("Only a finalized or paid invoice can be credited.", field="invoice")
        credited_before = sum((note.total for note in invoice.credit_notes.all()), Decimal(0))
        total = sum((item.amount for item in items), Decimal(0))
        if any(item.amount <= 0 for item in items):
            raise DomainError("Credit amounts must be positive.", field="lines")
        for index, item in enumerate(items):
            money_check(item.amount, invoice.currency, field=f"lines[{index}].amount")
        for index, item in enumerate(items):
            line = item.invoice_line
            if line is None:
                continue
            if line.invoice_id != invoice.pk:
                raise DomainError("That line belongs to another invoice.", field=f"lines[{index}]")
            if item.amount > line.amount:
                raise DomainError(f"At most the line's amount ({line.amount}) can be credited.",
                                  field=f"lines[{index}].amount")
            already = _credited_by(line)
            if already:
                raise InvalidState(f"That line was already credited by {already}.", field=f"lines[{index}]")
        if credited_before + total > invoice.total:
            raise DomainError(
                f"Credits would exceed the invoice total ({invoice.total} {invoice.currency}).", field="lines"
            )
        note = CreditNote.objects.create(
            organization_id=invoice.organization_id, customer_id=invoice.customer_id, invoice=invoice,
            number=sequence_next(organization_id=invoice.organization_id, kind="credit_note"),
            currency=invoice.currency, total=total, reason=reason,
        )
        for item in items:
            line = item.invoice_line
            CreditNoteLine.objects.create(
                credit_note=note, invoice_line=line, description=item.description, amount=item.amount,
                outcome_event_id=line.outcome_event_id if line is not None else None,
            )
        outcome_events_move(
            organization_id=invoice.organization_id, event_ids=[item.invoice_line.outcome_event_id for item in items
                       if item.invoice_line is not None and item.invoice_line.outcome_event_id],
            from_statuses=CREDITABLE, to_status=OutcomeStatus.CREDITED,
            reason=f"credit note {note.number}", actor_label="system",
        )
        note_id = note.pk
        transaction.on_commit(lambda: current_app.tasks[STRIPE_CREDIT_NOTE_TASK].delay(note_id))
        credit_note_created_emit(note=note)
        return note


def credit_note_for_reversals(*, customer: Customer, lines: list[InvoiceLine]) -> list[CreditNote]:
    """One credit note per invoice for outcomes reversed after it was finalized (credit-note mode)."""
    by_invoice: dict[int, list[InvoiceLine]] = {}
    for line in lines:
        if line.amount > 0:
            by_invoice.setdefault(line.invoice_id, []).append(line)
    notes = []
    for invoice_lines in by_invoice.values():
        invoice = invoice_lines[0].invoice
        notes.append(credit_note_create(
            invoice=invoice, reason="Outcomes reversed after billing",
            items=[CreditSpec(line.amount, f"Reversed: {line.description}", line) for line in invoice_lines],
        ))
    return notes
