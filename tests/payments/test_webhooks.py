"""Stripe's events at POST /webhooks/stripe/<organization>, signed by the stand-in like Stripe and verified by
the official SDK: payment status reaches our invoice, its page and the aging view; a forged, stale or
unsigned event is refused with 400; a replay changes nothing; one organization's URL never touches
another's invoices."""

import urllib.request
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import Invoice, InvoicePayment
from billing.selectors.aging import aging_report
from payments.models import InvoicePush, StripeEvent
from payments.selectors import reconciliation_list
from payments.services.push import invoice_push
from payments.standin import StripeStandIn, signature_header
from tests.payments.scenario import WEBHOOK_SECRET, Connected, billing_details, connect, finalized_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def connected(vendor, standin: StripeStandIn, stripe_base: str) -> Connected:
    billing_details(vendor.customer)
    return connect(standin, vendor.organization)


@pytest.fixture
def pushed(vendor, connected: Connected) -> InvoicePush:
    invoice = finalized_invoice(vendor.customer)
    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None and push.stripe_invoice_id
    return push


def _post(slug: str, body: bytes, header: str | None) -> tuple[int, dict]:
    headers = {"Stripe-Signature": header} if header is not None else {}
    response = Client().post(f"/webhooks/stripe/{slug}", body, content_type="application/json", headers=headers)
    return response.status_code, response.json()


def _pay(standin: StripeStandIn, connected: Connected, push: InvoicePush, *, amount: int | None = None,
         kind: str | None = None) -> tuple[bytes, str]:
    """Stripe's side of a payment, and the event it sends, signed, ready to post."""
    account = standin.accounts[connected.api_key]
    remote = account.objects[push.stripe_invoice_id]
    paid = remote["amount_remaining"] if amount is None else amount
    remote["amount_paid"] += paid
    remote["amount_remaining"] -= paid
    if remote["amount_remaining"] == 0:
        remote["status"] = "paid"
        remote["status_transitions"]["paid_at"] = int(timezone.now().timestamp())
    body, header, _ = standin.event_build(connected.api_key, kind or ("invoice.paid" if remote["status"] == "paid"
                                                                      else "invoice.payment_succeeded"), remote)
    return body, header


def test_invoice_paid_reaches_our_invoice_its_page_and_the_aging_view(
    vendor, connected: Connected, pushed: InvoicePush, standin: StripeStandIn
) -> None:
    invoice = pushed.invoice
    assert [row.total for row in aging_report(organization=vendor.organization, today=timezone.now().date()).rows] == [
        invoice.total]

    status, answer = _post("vendor", *_pay(standin, connected, pushed))

    assert status == 200 and answer["outcome"] == "applied" and answer["replayed"] is False
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.amount_paid == invoice.total and invoice.paid_at
    [payment] = InvoicePayment.objects.filter(invoice=invoice)
    assert (payment.source, payment.amount) == ("stripe", invoice.total)
    assert aging_report(organization=vendor.organization, today=timezone.now().date()).rows == []
    client = Client()
    client.force_login(vendor.admin)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="stripe-remote-status">paid<' in page
    assert reconciliation_list(organization=vendor.organization) == []


def test_a_replayed_event_changes_nothing(vendor, connected: Connected, pushed: InvoicePush,
                                         standin: StripeStandIn) -> None:
    body, header = _pay(standin, connected, pushed, amount=200)
    first = _post("vendor", body, header)
    again = _post("vendor", body, header)
    assert first[0] == again[0] == 200 and again[1]["replayed"] is True
    invoice = Invoice.objects.get(pk=pushed.invoice_id)
    assert invoice.amount_paid == 2 and invoice.status == Invoice.Status.FINALIZED  # a part payment, once
    assert InvoicePayment.objects.filter(invoice=invoice).count() == 1
    assert StripeEvent.objects.filter(organization=vendor.organization).count() == 1


def test_the_same_payment_told_by_two_event_types_is_booked_once(
    vendor, connected: Connected, pushed: InvoicePush, standin: StripeStandIn
) -> None:
    body, header = _pay(standin, connected, pushed)
    remote = standin.accounts[connected.api_key].objects[pushed.stripe_invoice_id]
    succeeded, succeeded_header, _ = standin.event_build(connected.api_key, "invoice.payment_succeeded", remote)
    assert _post("vendor", body, header)[0] == 200
    assert _post("vendor", succeeded, succeeded_header)[0] == 200
    invoice = Invoice.objects.get(pk=pushed.invoice_id)
    assert invoice.amount_paid == invoice.total and InvoicePayment.objects.filter(invoice=invoice).count() == 1


@pytest.mark.parametrize("forgery", ["wrong secret", "tampered body", "stale", "unsigned", "not json"])
def test_a_forged_or_stale_event_is_refused_with_400_and_changes_nothing(
    vendor, connected: Connected, pushed: InvoicePush, standin: StripeStandIn, forgery: str
) -> None:
    remote = standin.accounts[connected.api_key].objects[pushed.stripe_invoice_id]
    remote = {**remote, "status": "paid", "amount_paid": remote["total"], "amount_remaining": 0}
    body, header, _ = standin.event_build(connected.api_key, "invoice.paid", remote)
    if forgery == "wrong secret":
        body, header, _ = standin.event_build(connected.api_key, "invoice.paid", remote, secret="whsec_attacker_000")
    elif forgery == "tampered body":
        body = body.replace(b'"amount_paid": ', b'"amount_paid": 9')
    elif forgery == "stale":
        old = int((timezone.now() - timedelta(minutes=10)).timestamp())
        body, header, _ = standin.event_build(connected.api_key, "invoice.paid", remote, timestamp=old)
    elif forgery == "not json":
        body, header = b"not json", signature_header("not json", WEBHOOK_SECRET, int(timezone.now().timestamp()))
    status, answer = _post("vendor", body, None if forgery == "unsigned" else header)

    assert status == 400
    assert answer["code"] == "invalid" and set(answer["errors"]) <= {"Stripe-Signature", "body"}
    invoice = Invoice.objects.get(pk=pushed.invoice_id)
    assert invoice.status == Invoice.Status.FINALIZED and invoice.amount_paid == 0
    assert not StripeEvent.objects.exists()


def test_one_organizations_webhook_url_cannot_touch_anothers_invoices(
    vendor, stranger, connected: Connected, pushed: InvoicePush, standin: StripeStandIn
) -> None:
    strangers = connect(standin, stranger.organization)
    remote = standin.accounts[connected.api_key].objects[pushed.stripe_invoice_id]
    paid = {**remote, "status": "paid", "amount_paid": remote["total"], "amount_remaining": 0}

    # The stranger signs, with its own secret, an event naming the vendor's Stripe invoice: recorded, ignored.
    standin.accounts[strangers.api_key].objects[remote["id"]] = paid
    body, header, _ = standin.event_build(strangers.api_key, "invoice.paid", paid)
    status, answer = _post("stranger", body, header)
    assert status == 200 and answer["outcome"] == "ignored"
    # The vendor's own event sent to the stranger's URL does not verify there (the secrets differ).
    body, header, _ = standin.event_build(connected.api_key, "invoice.paid", paid, secret="whsec_vendor_other")
    assert _post("stranger", body, header)[0] == 400
    invoice = Invoice.objects.get(pk=pushed.invoice_id)
    assert invoice.status == Invoice.Status.FINALIZED and invoice.amount_paid == 0
    # An organization without Stripe, or none at all, answers 404.
    assert _post("nobody", body, header)[0] == 404


def test_a_failed_payment_is_kept_and_shown(vendor, connected: Connected, pushed: InvoicePush,
                                            standin: StripeStandIn) -> None:
    remote = standin.accounts[connected.api_key].objects[pushed.stripe_invoice_id]
    failed = {**remote, "attempt_count": 1, "last_payment_error": {"message": "Your card was declined."}}
    body, header, _ = standin.event_build(connected.api_key, "invoice.payment_failed", failed)
    assert _post("vendor", body, header)[0] == 200
    push = InvoicePush.objects.get(pk=pushed.pk)
    assert push.payment_failed_at and push.payment_failure == "Your card was declined."
    [row] = reconciliation_list(organization=vendor.organization)
    assert any("Your card was declined." in reason for reason in row.reasons)
    assert Invoice.objects.get(pk=pushed.invoice_id).status == Invoice.Status.FINALIZED


@pytest.mark.parametrize("kind", ["invoice.voided", "invoice.marked_uncollectible"])
def test_a_void_in_stripe_is_recorded_and_surfaced_not_applied(
    vendor, connected: Connected, pushed: InvoicePush, standin: StripeStandIn, kind: str
) -> None:
    """Our invoices are corrected by credit notes: Stripe's void leaves ours finalized, for a person to decide."""
    remote = standin.accounts[connected.api_key].objects[pushed.stripe_invoice_id]
    state = "void" if kind == "invoice.voided" else "uncollectible"
    body, header, _ = standin.event_build(connected.api_key, kind, {**remote, "status": state})
    status, answer = _post("vendor", body, header)
    assert status == 200 and answer["outcome"] == "refused"
    assert Invoice.objects.get(pk=pushed.invoice_id).status == Invoice.Status.FINALIZED
    [row] = reconciliation_list(organization=vendor.organization)
    assert row.invoice.pk == pushed.invoice_id
    assert any(("Voided" if state == "void" else "Marked uncollectible") in reason for reason in row.reasons)
    event = StripeEvent.objects.get()
    assert event.invoice_id == pushed.invoice_id and "credit note" in event.message


def test_paying_on_the_hosted_page_reaches_a_live_server(vendor, live_server, standin: StripeStandIn,
                                                         settings) -> None:
    """The whole path over HTTP, as in the demo: the customer follows our payment link to Stripe's hosted
    page and pays; the stand-in posts the signed event to the live server, which marks the invoice paid."""
    settings.STRIPE_API_BASE = standin.url
    billing_details(vendor.customer)
    connect(standin, vendor.organization, webhook_url=f"{live_server.url}/webhooks/stripe/vendor")
    invoice = finalized_invoice(vendor.customer)
    invoice_push(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    with urllib.request.urlopen(invoice.payment_url) as page:  # noqa: S310 - the stand-in's page
        assert "Pay 5.95 USD" in page.read().decode()
    paying = urllib.request.Request(f"{invoice.payment_url}/pay", data=b"", method="POST")
    with urllib.request.urlopen(paying) as page:  # noqa: S310
        assert "The webhook answered 200" in page.read().decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.amount_paid == invoice.total
