"""The demo's money after the invoices: a prepaid wallet drawn down, invoices paid, partly paid and
overdue, a credit note and an open dispute, so the dashboard, the aging view and every invoice state
have something to show. Each step looks first and writes only what is missing, so seeding twice stores
nothing twice (payments carry a reference, recorded once)."""

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from accounts.models import Organization
from accounts.selectors import customer_get
from billing.models import CreditGrant, Invoice
from billing.selectors.invoices import credit_note_list, invoice_due_list, invoice_line_creditable_list, invoice_list
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize
from billing.services.payments import invoice_payment_record
from billing.services.wallet import credit_grant_create
from core.periods import Period
from outcomes.enums import OutcomeStatus
from outcomes.selectors import dispute_list, outcome_event_list
from outcomes.services import outcome_event_dispute

Write = Callable[[str], None]

WALLET_CUSTOMER = "initech"
WALLET_AMOUNT = Decimal("8000.00")  # about three months of Initech's reviews: a balance is left
WALLET_DESCRIPTION = "Prepaid annual credit"
# Who pays what, by how many months before last month the invoice's period is (2: two months before).
# full: paid a few days before the due date; half: half paid, the rest overdue; none: unpaid.
PAYMENTS: dict[int, dict[str, str]] = {
    2: {"globex": "full", "initech": "full", "umbrella": "none"},
    1: {"globex": "half", "initech": "full", "umbrella": "none"},
    0: {"globex": "full"},
}
DISPUTE_CUSTOMER = "globex"
DISPUTE_REASON = "Our own staff closed this ticket before the agent answered; it should not be billed."
CREDIT_NOTE_REASON = "Ticket billed twice: the customer reopened it as a new ticket the same day."


def wallet_seed(*, organization: Organization, first: Period, volume: float = 1.0) -> None:
    """A prepaid grant for Initech from the first demo month: each finalized invoice draws it down.
    It scales with `volume` (the demo's size ÷ the default), as the invoices do."""
    customer = customer_get(organization=organization, external_id=WALLET_CUSTOMER)
    if CreditGrant.objects.filter(customer=customer, description=WALLET_DESCRIPTION).exists():
        return
    credit_grant_create(
        customer=customer, amount=(WALLET_AMOUNT * Decimal(str(volume))).quantize(Decimal("1.00")),
        currency=customer.currency, description=WALLET_DESCRIPTION,
        granted_at=first.start_at, expires_at=first.start_at + timedelta(days=400), priority=10,
    )


def finalize_due(*, organization: Organization, now: datetime, write: Write) -> None:
    """Finalize the months past their grace period when the hourly job would have (the period's end plus
    the grace days), so their issue and due dates are the ones a real history would have."""
    grace = timedelta(days=organization.invoice_grace_days, hours=1)
    numbers = []
    for invoice in invoice_due_list(organization=organization, now=now):
        when = min(now, datetime.combine(invoice.period_end, time.min, tzinfo=UTC) + grace)
        numbers.append(invoice_finalize(invoice=invoice, now=when).number)
    if numbers:
        write(f"Finalized {len(numbers)} invoices past their grace period: {numbers[0]} to {numbers[-1]}.")


def receivables_seed(*, organization: Organization, previous: Period, now: datetime, write: Write) -> None:
    """Payments by PAYMENTS and a credit note on Globex's oldest invoice."""
    for months_back, plan in PAYMENTS.items():
        period = previous.add(-months_back)
        for invoice in invoice_list(organization=organization, period=period):
            how = plan.get(invoice.customer.external_id, "none")
            if how != "none" and invoice.due_date is not None and invoice.status == Invoice.Status.FINALIZED:
                _pay(invoice, how=how, now=now)
    _credit_note(organization=organization, period=previous.add(-2))


def _pay(invoice: Invoice, *, how: str, now: datetime) -> None:
    assert invoice.due_date is not None and invoice.number
    paid_at = min(now, datetime.combine(invoice.due_date - timedelta(days=4), time(10), tzinfo=UTC))
    amount = invoice.amount_due
    if how == "half":
        amount = (amount / 2).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if amount > 0:
        # The reference makes the payment idempotent: a second seed records nothing.
        invoice_payment_record(invoice=invoice, amount=amount, paid_at=paid_at, source="bank_transfer",
                               reference=f"demo-{invoice.number}")


def _credit_note(*, organization: Organization, period: Period) -> None:
    globex = customer_get(organization=organization, external_id="globex")
    invoice = invoice_list(organization=organization, customer=globex, period=period).first()
    if invoice is None or invoice.status == Invoice.Status.DRAFT:
        return
    if credit_note_list(organization_id=organization.pk, invoice=invoice).exists():
        return
    line = invoice_line_creditable_list(invoice=invoice).filter(task_id__isnull=False).order_by("position").first()
    if line is not None:
        credit_note_create(invoice=invoice, reason=CREDIT_NOTE_REASON,
                           items=[CreditSpec(line.amount, f"Credit: {line.description}"[:300], line)])


def dispute_seed(*, organization: Organization, now: datetime) -> None:
    """Globex disputes one of this month's outcomes (not billed yet): it waits in the vendor's queue."""
    customer = customer_get(organization=organization, external_id=DISPUTE_CUSTOMER)
    if dispute_list(organization_id=organization.pk, customer_id=customer.pk, open_=True).exists():
        return
    event = (
        outcome_event_list(organization_id=organization.pk)
        .filter(customer_id=customer.pk, status__in=[OutcomeStatus.VERIFIED, OutcomeStatus.PENDING],
                timestamp__gte=Period.of(now).start_at)
        .order_by("timestamp", "pk")
        .first()
    )
    if event is not None:
        outcome_event_dispute(organization=organization, idempotency_key=event.idempotency_key,
                              reason=DISPUTE_REASON, actor_label="seed_demo", customer_id=customer.pk)
