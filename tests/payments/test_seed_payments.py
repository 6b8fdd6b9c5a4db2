"""The demo's Stripe seed: finalized unpaid invoices pushed to the stand-in, the first paid through a signed
invoice.paid, the second's card declined; seeding again stores nothing twice."""

import time
from pathlib import Path

import pytest

from billing.models import Invoice
from demo.seed_payments import payments_seed
from payments.models import InvoicePush, PushStatus, StripeEvent
from payments.selectors import reconciliation_list
from tests.factories import CustomerFactory
from tests.payments.scenario import billing_details, finalized_invoice

pytestmark = pytest.mark.django_db


def test_the_demo_shows_invoices_moving_to_paid_through_stripe_and_seeding_twice_adds_nothing(
    vendor, tmp_path: Path
) -> None:
    billing_details(vendor.customer)
    invoices = [finalized_invoice(vendor.customer)]
    for index in range(2):
        customer = billing_details(CustomerFactory.create(organization=vendor.organization, external_id=f"c{index}"))
        invoices.append(finalized_invoice(customer, prefix=f"c{index}-"))
    lines: list[str] = []
    state = tmp_path / "standin.json"

    started = time.monotonic()
    payments_seed(organization=vendor.organization, write=lines.append, state_file=state)
    seconds = time.monotonic() - started

    pushes = list(InvoicePush.objects.filter(organization=vendor.organization).order_by("invoice__finalized_at", "pk"))
    assert [push.status for push in pushes] == [PushStatus.PUSHED] * 3
    statuses = [Invoice.objects.get(pk=invoice.pk).status for invoice in invoices]
    assert statuses == [Invoice.Status.PAID, Invoice.Status.FINALIZED, Invoice.Status.FINALIZED]
    [declined] = reconciliation_list(organization=vendor.organization)
    assert declined.invoice.pk == invoices[1].pk and "declined" in " ".join(declined.reasons)
    assert "pushed 3 invoices" in lines[0] and state.exists()
    assert seconds < 10, seconds

    payments_seed(organization=vendor.organization, write=lines.append, state_file=state)
    assert InvoicePush.objects.filter(organization=vendor.organization).count() == 3
    assert StripeEvent.objects.filter(organization=vendor.organization).count() == 2
    assert [push.attempts for push in InvoicePush.objects.order_by("pk")] == [1, 1, 1]
