"""The demo seed: it bills real lines through the real services, and seeding twice adds nothing."""

from io import StringIO

from django.core.management import call_command

from accounts.models import ApiKey, Customer, Organization, User
from billing.models import (
    CreditGrant,
    CreditLedgerEntry,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Notification,
)
from billing.selectors.roi import roi_figures, roi_get
from core.periods import Period
from metering.models import Meter, Rate, UsageEvent
from outcomes.models import Dispute, OutcomeEvent, OutcomeType


def _seed(*extra: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--tasks", "120", *extra, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(), "meters": Meter.objects.count(), "rates": Rate.objects.count(),
        "outcome_types": OutcomeType.objects.count(), "usage_events": UsageEvent.objects.count(),
        "outcome_events": OutcomeEvent.objects.count(), "invoices": Invoice.objects.count(),
        "invoice_lines": InvoiceLine.objects.count(), "users": User.objects.count(),
        "live_api_keys": ApiKey.objects.filter(revoked_at__isnull=True).count(),
        "payments": InvoicePayment.objects.count(), "credit_notes": CreditNote.objects.count(),
        "disputes": Dispute.objects.count(), "grants": CreditGrant.objects.count(),
        "ledger": CreditLedgerEntry.objects.count(), "notifications": Notification.objects.count(),
    }


def test_seed_bills_last_month_with_lines_and_a_costed_roi_report(db: None) -> None:
    output = _seed()

    organization = Organization.objects.get(slug="acme-ai")
    last_month = Period.of(organization.created_at).previous()
    invoices = Invoice.objects.filter(organization=organization, period_start=last_month.start)
    assert invoices.count() == 3
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert lines, invoice.customer.external_id
        # The total adds the exclusive tax (Globex pays California sales tax); billed figures are before tax.
        added_tax = sum(tax.amount for tax in invoice.taxes.all() if not tax.inclusive)
        assert invoice.total == sum(line.amount for line in lines) + added_tax > 0
        roi = roi_figures(roi_get(customer=invoice.customer, period=last_month))
        assert roi["cost_to_serve"] > 0
        assert roi["value_delivered"] > 0
        assert roi["billed"] == invoice.total - added_tax
    assert OutcomeEvent.objects.filter(status=OutcomeEvent.Status.REVERSED).exists()
    assert User.objects.filter(username="globex-finance", customer__external_id="globex").exists()
    assert User.objects.filter(username="ops", is_superuser=True).exists()
    raw_key = ApiKey.objects.get(organization=organization, revoked_at__isnull=True).prefix
    assert raw_key in output
    assert "http://127.0.0.1:8000" in output


def test_seeding_twice_adds_nothing_and_leaves_one_live_key(db: None) -> None:
    _seed()
    first = _counts()
    invoice_totals = dict(Invoice.objects.values_list("pk", "total"))

    _seed()

    assert _counts() == first
    assert first["live_api_keys"] == 1
    assert dict(Invoice.objects.values_list("pk", "total")) == invoice_totals


def test_reset_wipes_the_demo_organization_first(db: None) -> None:
    _seed()
    first = _counts()

    output = _seed("--reset")

    assert "Deleted the demo organization" in output
    assert _counts() == first
    assert Organization.objects.filter(slug="acme-ai").count() == 1


def test_the_seed_shows_every_state_of_money(db: None) -> None:
    """A paid invoice, overdue ones, a credit note, an open dispute, a prepaid wallet drawn down,
    spend-cap alerts and a minimum-commit true-up, each named in the summary."""
    from django.utils import timezone

    from billing.selectors.aging import invoice_overdue_q

    output = _seed()
    organization = Organization.objects.get(slug="acme-ai")
    invoices = Invoice.objects.filter(organization=organization)
    paid = invoices.filter(status=Invoice.Status.PAID)
    overdue = invoices.filter(invoice_overdue_q(timezone.now().date()))
    assert paid.exists() and overdue.exists()
    assert all(invoice.amount_paid == invoice.total for invoice in paid)
    partly = overdue.filter(amount_paid__gt=0).first()
    assert partly is not None and partly.amount_due > 0  # Globex paid half of one
    note = CreditNote.objects.get(organization=organization)
    assert note.number in output
    assert Dispute.objects.filter(organization=organization, status=Dispute.Status.OPEN).exists()
    assert CreditLedgerEntry.objects.filter(organization=organization, kind=CreditLedgerEntry.Kind.DRAWDOWN).exists()
    assert Notification.objects.filter(organization=organization, kind__startswith="spend_cap").exists()
    assert InvoiceLine.objects.filter(organization=organization, kind=InvoiceLine.Kind.MINIMUM_COMMIT).exists()
    for invoice in [paid.first(), overdue.first()]:
        assert invoice is not None and invoice.number and invoice.number in output
    assert "Seeded in" in output and "ready" not in output  # `make demo` says ready once the server listens
