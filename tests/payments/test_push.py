"""Pushing a finalized invoice through the real SDK to the stand-in: the Stripe invoice's items are our
summary lines and tax in minor units and add up to our total; a retry, however it comes, never makes a
second Stripe invoice; a refusal shows Stripe's message and a retry fixes it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_void
from payments.models import CreditNotePush, InvoicePush, PushStatus, StripeCustomer
from payments.selectors import reconciliation_list
from payments.services.events import stripe_event_receive
from payments.services.push import PushRetry, invoice_push, invoice_push_queue, invoice_pushes_resume, to_minor
from payments.standin import StripeStandIn
from tests.payments.scenario import billing_details, connect, finalized_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(vendor, standin: StripeStandIn, stripe_base: str) -> Invoice:
    billing_details(vendor.customer)
    return finalized_invoice(vendor.customer)


def test_a_finalized_invoice_becomes_an_open_stripe_invoice_with_our_lines_and_total(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    connected = connect(standin, vendor.organization)
    push = invoice_push(invoice_id=invoice.pk)

    assert push is not None and push.status == PushStatus.PUSHED and push.attempts == 1
    [remote] = standin.objects(connected.api_key, "invoice")
    assert remote["id"] == push.stripe_invoice_id and remote["status"] == "open"
    assert invoice.total == Decimal("5.95")  # 4 x 1.25 = 5.00, VAT 19% = 0.95
    assert [(line["description"], line["amount"]) for line in remote["_lines"]] == [
        ("4 × Ticket resolved at 1.25", 500), ("VAT 19% (Germany)", 95)]
    assert remote["total"] == to_minor(invoice.total, "USD") == 595
    assert remote["metadata"]["tally_invoice_id"] == str(invoice.pk)
    assert remote["custom_fields"] == [{"name": "Tally invoice", "value": invoice.number}]
    assert f"/invoices/{invoice.pk}/" in remote["description"]  # the per-task detail stays with us
    invoice.refresh_from_db()
    assert invoice.payment_url == remote["hosted_invoice_url"] == push.hosted_invoice_url


def test_the_customer_is_created_in_stripe_with_its_billing_details_once(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    connected = connect(standin, vendor.organization)
    invoice_push(invoice_id=invoice.pk)
    [customer] = standin.objects(connected.api_key, "customer")
    assert customer["name"] == "Acme Corp GmbH" and customer["email"] == "ap@acme.example"
    assert customer["address"]["country"] == "DE" and customer["address"]["city"] == "Berlin"
    assert customer["metadata"] == {"tally_customer_id": "acme", "tally_organization": "vendor"}
    [tax_id] = standin.objects(connected.api_key, "tax_id")
    assert (tax_id["type"], tax_id["value"], tax_id["customer"]) == ("eu_vat", "DE123456789", customer["id"])
    assert StripeCustomer.objects.get(customer=vendor.customer).stripe_id == customer["id"]

    # A second invoice reuses the customer; changed details update it.
    billing_details(vendor.customer, tax_id="DE999999999")
    november = finalized_invoice(vendor.customer, prefix="n", month=11)
    invoice_push(invoice_id=november.pk)
    assert len(standin.objects(connected.api_key, "customer")) == 1
    assert {item["value"] for item in standin.objects(connected.api_key, "tax_id")} == {"DE123456789", "DE999999999"}


def test_pushing_again_changes_nothing(vendor, invoice: Invoice, standin: StripeStandIn) -> None:
    connected = connect(standin, vendor.organization)
    first = invoice_push(invoice_id=invoice.pk)
    again = invoice_push(invoice_id=invoice.pk)
    assert first is not None and again is not None and again.pk == first.pk and again.attempts == 1
    assert len(standin.objects(connected.api_key, "invoice")) == 1
    assert len(standin.requests("POST", r"/v1/invoices")) == 1


def test_a_push_retried_after_stripe_failed_mid_way_creates_no_second_invoice(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    connected = connect(standin, vendor.organization)
    standin.fail_next("POST", r"/v1/invoices/[^/]+/finalize", 500, "An unknown error occurred.", times=2)
    with pytest.raises(PushRetry):
        invoice_push(invoice_id=invoice.pk)
    pending = InvoicePush.objects.get(invoice=invoice)
    assert pending.status == PushStatus.PENDING and pending.stripe_invoice_id and "unknown error" in pending.last_error

    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None and push.status == PushStatus.PUSHED and push.attempts == 2 and push.last_error == ""
    [remote] = standin.objects(connected.api_key, "invoice")
    assert remote["status"] == "open" and len(remote["_lines"]) == 2  # the lines were not added twice


def test_a_lost_record_of_the_stripe_invoice_is_found_again_by_our_id(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    """A worker that died after Stripe created the invoice but before we stored its id, whose idempotency
    keys have since expired (Stripe keeps them 24 hours): the retry searches by our id in metadata."""
    connected = connect(standin, vendor.organization)
    standin.fail_next("POST", r"/v1/invoices/[^/]+/add_lines", 503, "Service unavailable.", times=2)
    with pytest.raises(PushRetry):
        invoice_push(invoice_id=invoice.pk)
    InvoicePush.objects.filter(invoice=invoice).update(stripe_invoice_id="")
    standin.accounts[connected.api_key].idempotency.clear()

    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None and push.status == PushStatus.PUSHED
    assert len(standin.objects(connected.api_key, "invoice")) == 1
    assert len(standin.requests("GET", r"/v1/invoices/search")) == 1


def test_stripes_refusal_shows_its_message_and_the_retry_button_pushes_again(
    vendor, invoice: Invoice, standin: StripeStandIn, django_capture_on_commit_callbacks
) -> None:
    connected = connect(standin, vendor.organization)
    standin.fail_next("POST", r"/v1/invoices", 400, "Invalid currency: usd for this account.",
                      type="invalid_request_error", code="parameter_invalid_string")
    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None
    push.refresh_from_db()
    assert push.status == PushStatus.FAILED and push.last_error == "Invalid currency: usd for this account."
    assert push.last_error_code == "parameter_invalid_string"

    with django_capture_on_commit_callbacks(execute=True):
        invoice_push_queue(invoice=invoice)  # the retry button; the task runs in-process here
    push.refresh_from_db()
    assert push.status == PushStatus.PUSHED and len(standin.objects(connected.api_key, "invoice")) == 1


def test_stripe_tax_on_sends_no_tax_lines_and_lets_stripe_compute_it(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    connected = connect(standin, vendor.organization, automatic_tax=True)
    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None and push.automatic_tax
    [remote] = standin.objects(connected.api_key, "invoice")
    assert remote["automatic_tax"]["enabled"] is True
    assert [line["amount"] for line in remote["_lines"]] == [500]
    assert remote["total"] == 595  # the stand-in's Stripe Tax charges Germany 19% too


def test_nothing_is_pushed_for_an_organization_without_stripe(vendor, invoice: Invoice, standin: StripeStandIn) -> None:
    assert invoice_push(invoice_id=invoice.pk) is None
    assert not InvoicePush.objects.exists() and standin.log == []


def test_finalizing_sends_the_push_and_a_credit_note_follows_it_to_stripe(
    vendor, standin: StripeStandIn, stripe_base: str, django_capture_on_commit_callbacks
) -> None:
    """billing fires both tasks by name after commit (it may not import payments); they run in-process here."""
    billing_details(vendor.customer)
    connected = connect(standin, vendor.organization)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = finalized_invoice(vendor.customer)
    push = InvoicePush.objects.get(invoice=invoice)
    assert push.status == PushStatus.PUSHED
    [remote] = standin.objects(connected.api_key, "invoice")

    line = invoice.lines.order_by("position").first()
    assert line is not None
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(invoice=invoice, reason="Ticket reopened",
                                  items=[CreditSpec(line.amount, "Reopened ticket", line)])
    [stripe_note] = standin.objects(connected.api_key, "credit_note")
    assert stripe_note["invoice"] == remote["id"] and stripe_note["amount"] == to_minor(note.total, "USD") == 125
    assert stripe_note["metadata"]["tally_credit_note_number"] == note.number
    assert CreditNotePush.objects.get(credit_note=note).stripe_credit_note_id == stripe_note["id"]
    assert standin.accounts[connected.api_key].objects[remote["id"]]["amount_remaining"] == 595 - 125


def test_a_customer_deleted_in_stripe_is_created_again_for_the_next_invoice(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    connected = connect(standin, vendor.organization)
    invoice_push(invoice_id=invoice.pk)
    [deleted] = standin.objects(connected.api_key, "customer")
    del standin.accounts[connected.api_key].objects[deleted["id"]]

    november = finalized_invoice(vendor.customer, prefix="n", month=11)
    push = invoice_push(invoice_id=november.pk)
    assert push is not None and (push.status, push.last_error) == (PushStatus.PUSHED, "")
    [customer] = standin.objects(connected.api_key, "customer")
    assert customer["id"] != deleted["id"] and push.stripe_customer_id == customer["id"]
    assert StripeCustomer.objects.get(customer=vendor.customer).stripe_id == customer["id"]


def test_pushes_whose_task_was_lost_are_sent_again(vendor, invoice: Invoice, standin: StripeStandIn,
                                                   django_capture_on_commit_callbacks) -> None:
    """A broker restarted without the task: beat's resume finds the stalled push and the invoice never pushed."""
    connected = connect(standin, vendor.organization)
    assert invoice.finalized_at is not None
    connected.account.connected_at = invoice.finalized_at - timedelta(days=1)
    connected.account.save()
    later = timezone.now() + timedelta(hours=1)
    # Finalized while connected, never pushed: sent (the task runs in-process here), then nothing is left.
    assert invoice_pushes_resume(now=later) == 1
    assert InvoicePush.objects.get(invoice=invoice).status == PushStatus.PUSHED
    assert invoice_pushes_resume(now=later) == 0
    november = finalized_invoice(vendor.customer, prefix="n", month=11)
    InvoicePush.objects.create(organization=vendor.organization, invoice=november)  # pending, its task lost
    assert invoice_pushes_resume(now=timezone.now()) == 0  # not stalled yet
    assert invoice_pushes_resume(now=later) == 1
    assert InvoicePush.objects.filter(status=PushStatus.PUSHED).count() == 2
    assert len(standin.objects(connected.api_key, "invoice")) == 2


def test_voiding_an_invoice_here_voids_its_stripe_invoice(vendor, invoice: Invoice, standin: StripeStandIn,
                                                         django_capture_on_commit_callbacks) -> None:
    connected = connect(standin, vendor.organization)
    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=invoice)
    assert standin.accounts[connected.api_key].objects[push.stripe_invoice_id]["status"] == "void"
    push.refresh_from_db()
    assert push.remote_status == "void" and reconciliation_list(organization=vendor.organization) == []


def test_a_credit_note_issued_before_the_push_follows_it_to_stripe(
    vendor, invoice: Invoice, standin: StripeStandIn, django_capture_on_commit_callbacks
) -> None:
    connected = connect(standin, vendor.organization)
    line = invoice.lines.order_by("position").first()
    assert line is not None
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(invoice=invoice, reason="Reopened", items=[CreditSpec(line.amount, "Reopened", line)])
    assert standin.objects(connected.api_key, "credit_note") == []  # no Stripe invoice to credit yet
    with django_capture_on_commit_callbacks(execute=True):
        invoice_push(invoice_id=invoice.pk)
    [stripe_note] = standin.objects(connected.api_key, "credit_note")
    assert stripe_note["metadata"]["tally_credit_note_id"] == str(note.pk)


def test_a_credit_note_stripe_refused_shows_on_the_reconciliation(
    vendor, invoice: Invoice, standin: StripeStandIn, django_capture_on_commit_callbacks
) -> None:
    connect(standin, vendor.organization)
    invoice_push(invoice_id=invoice.pk)
    standin.fail_next("POST", r"/v1/credit_notes", 400, "The credit note exceeds the invoice's remaining amount.",
                      type="invalid_request_error")
    line = invoice.lines.order_by("position").first()
    assert line is not None
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(invoice=invoice, reason="Reopened", items=[CreditSpec(line.amount, "Reopened", line)])
    [row] = reconciliation_list(organization=vendor.organization)
    assert row.reasons == [f"Credit note {note.number} not in Stripe: The credit note exceeds the invoice's "
                           "remaining amount."]


def test_an_invoice_voided_while_its_push_waited_is_not_sent(vendor, invoice: Invoice, standin: StripeStandIn) -> None:
    connected = connect(standin, vendor.organization)
    standin.fail_next("POST", r"/v1/customers", 503, "Stripe is away.", times=2)
    with pytest.raises(PushRetry):
        invoice_push(invoice_id=invoice.pk)
    invoice_void(invoice=invoice)
    assert invoice_push(invoice_id=invoice.pk) is None
    assert not InvoicePush.objects.exists() and standin.objects(connected.api_key, "invoice") == []


def test_a_payment_heard_before_the_crashed_push_was_recorded_is_kept(
    vendor, invoice: Invoice, standin: StripeStandIn
) -> None:
    """Stripe finalized the invoice and the customer paid before the (crashed) worker recorded the push: the
    event books the payment, and the push's retry records the Stripe invoice as pushed, paid."""
    connected = connect(standin, vendor.organization)
    standin.fail_next("GET", r"/v1/invoices/[^/]+/lines", 503, "Stripe is away.", times=2)
    with pytest.raises(PushRetry):
        invoice_push(invoice_id=invoice.pk)
    push = InvoicePush.objects.get(invoice=invoice)
    remote = standin.accounts[connected.api_key].objects[push.stripe_invoice_id]
    # Meanwhile in Stripe: lines added and finalized (by the attempt the worker lost), then paid.
    remote["_lines"].append({"id": "il_x", "object": "line_item", "amount": 595, "metadata": {}, "currency": "usd"})
    remote.update(status="open", total=595, amount_due=595, amount_remaining=595)
    standin.invoice_settle(connected.api_key, push.stripe_invoice_id)
    body, header, _ = standin.event_build(connected.api_key, "invoice.paid", remote)
    stripe_event_receive(organization_slug="vendor", payload=body, signature=header)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID

    pushed = invoice_push(invoice_id=invoice.pk)
    assert pushed is not None and (pushed.status, pushed.remote_status) == (PushStatus.PUSHED, "paid")
    assert len(standin.objects(connected.api_key, "invoice")) == 1
