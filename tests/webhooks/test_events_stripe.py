"""Payment status from Stripe (through the stand-in and the real SDK) reaches the vendor's webhooks:
a failed payment is announced once however often Stripe sends the event, a payment in full as paid."""

import json
from collections.abc import Iterator

import pytest
from django.test import Client

from payments.models import InvoicePush
from payments.services.push import invoice_push
from payments.standin import StripeStandIn
from tests.conftest import Vendor
from tests.payments.scenario import Connected, billing_details, connect, finalized_invoice
from webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def pushed(vendor: Vendor, standin: StripeStandIn, settings: object) -> tuple[Connected, InvoicePush]:
    settings.STRIPE_API_BASE = standin.url  # type: ignore[attr-defined]
    billing_details(vendor.customer)
    connected = connect(standin, vendor.organization)
    push = invoice_push(invoice_id=finalized_invoice(vendor.customer).pk)
    assert push is not None and push.stripe_invoice_id
    return connected, push


def _post(body: bytes, header: str) -> int:
    return Client().post("/webhooks/stripe/vendor", body, content_type="application/json",
                         headers={"Stripe-Signature": header}).status_code


def test_a_failed_stripe_payment_is_announced_once(pushed: tuple[Connected, InvoicePush],
                                                   standin: StripeStandIn) -> None:
    connected, push = pushed
    remote = standin.accounts[connected.api_key].objects[push.stripe_invoice_id]
    failed = {**remote, "attempt_count": 1, "last_payment_error": {"message": "Your card was declined."}}
    body, header, _ = standin.event_build(connected.api_key, "invoice.payment_failed", failed)
    assert _post(body, header) == 200
    assert _post(body, header) == 200  # Stripe sends it again: a replay changes nothing
    [event] = OutboxEvent.objects.filter(type="invoice.payment_failed")
    assert event.data["invoice"]["id"] == push.invoice_id and event.data["invoice"]["status"] == "finalized"
    assert event.data["payment"]["failure_message"] == "Your card was declined."


def test_a_stripe_payment_in_full_is_announced_as_paid(pushed: tuple[Connected, InvoicePush],
                                                       standin: StripeStandIn) -> None:
    connected, push = pushed
    remote = standin.accounts[connected.api_key].objects[push.stripe_invoice_id]
    paid = {**remote, "status": "paid", "amount_paid": remote["amount_remaining"], "amount_remaining": 0}
    body, header, _ = standin.event_build(connected.api_key, "invoice.paid", paid)
    assert _post(body, header) == 200
    [event] = OutboxEvent.objects.filter(type="invoice.paid")
    assert event.data["invoice"]["status"] == "paid" and event.data["invoice"]["amount_due"] == "0.00"
    assert json.dumps(event.data)  # plain JSON, as stored and sent
