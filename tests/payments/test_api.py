"""The Stripe API: the connection shows hints, never a secret; an invoice's Stripe state and its push again;
the reconciliation; another organization gets 404, a customer key nothing, a read key no push."""

import pytest
from django.test import Client

from accounts.models import ApiKey
from accounts.services import api_key_create
from payments.models import InvoicePush, PushStatus
from payments.services.push import invoice_push
from payments.standin import StripeStandIn
from tests.payments.scenario import WEBHOOK_SECRET, billing_details, connect, finalized_invoice, stripe_key_for

pytestmark = pytest.mark.django_db


def test_the_connection_shows_hints_never_a_secret(vendor, standin: StripeStandIn, stripe_base: str) -> None:
    before = vendor.api.get("/api/v1/stripe/account").json()
    assert before["connected"] is False and before["webhook_url"].endswith("/webhooks/stripe/vendor")
    connect(standin, vendor.organization)
    answer = vendor.api.get("/api/v1/stripe/account")
    body = answer.content.decode()
    assert answer.status_code == 200 and answer.json()["connected"] is True
    assert answer.json()["secret_key_hint"] == "sk_test_…6789"
    assert stripe_key_for(vendor.organization) not in body and WEBHOOK_SECRET not in body


def test_an_invoices_stripe_state_and_its_push_again(vendor, stranger, standin: StripeStandIn, stripe_base: str,
                                                     django_capture_on_commit_callbacks) -> None:
    billing_details(vendor.customer)
    connected = connect(standin, vendor.organization)
    invoice = finalized_invoice(vendor.customer)
    standin.fail_next("POST", r"/v1/invoices", 400, "No such currency.", type="invalid_request_error")
    invoice_push(invoice_id=invoice.pk)

    state = vendor.api.get(f"/api/v1/invoices/{invoice.pk}/stripe").json()
    assert (state["push_status"], state["last_error"]) == ("failed", "No such currency.")
    assert state["disagreements"] == ["Push to Stripe failed: No such currency."]
    [row] = vendor.api.get("/api/v1/stripe/reconciliation").json()
    assert row["invoice_id"] == invoice.pk and row["number"] == invoice.number

    assert stranger.api.get(f"/api/v1/invoices/{invoice.pk}/stripe").status_code == 404
    assert stranger.api.post(f"/api/v1/invoices/{invoice.pk}/stripe/push").status_code == 404
    assert stranger.api.get("/api/v1/stripe/reconciliation").json() == []
    _, read_key = api_key_create(organization=vendor.organization, name="read", scope=ApiKey.Scope.READ)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {read_key}").post(
        f"/api/v1/invoices/{invoice.pk}/stripe/push").status_code == 403
    _, customer_key = api_key_create(organization=vendor.organization, customer=vendor.customer, name="acme",
                                     scope=ApiKey.Scope.READ)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {customer_key}").get(
        f"/api/v1/invoices/{invoice.pk}/stripe").status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        answer = vendor.api.post(f"/api/v1/invoices/{invoice.pk}/stripe/push")
    assert answer.status_code == 202
    assert InvoicePush.objects.get(invoice=invoice).status == PushStatus.PUSHED
    state = vendor.api.get(f"/api/v1/invoices/{invoice.pk}/stripe").json()
    assert state["stripe_status"] == "open" and state["hosted_invoice_url"] and state["disagreements"] == []
    assert len(standin.objects(connected.api_key, "invoice")) == 1


def test_pushing_without_stripe_or_a_draft_is_a_409(vendor) -> None:
    from tests.billing.scenario import outcomes, post_outcomes, reconcile
    from tests.factories import OutcomeTypeFactory

    OutcomeTypeFactory.create(organization=vendor.organization)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    draft = reconcile(vendor.customer)
    answer = vendor.api.post(f"/api/v1/invoices/{draft.pk}/stripe/push")
    assert answer.status_code == 409 and "Stripe is not connected" in answer.json()["detail"]
