"""The console's Stripe pages: connecting checks the key with Stripe (the stand-in) and never shows a secret
back, in the page, the admin or the logs; the reconciliation lists what disagrees, with the reason and a
retry; another organization, a vendor member and a customer's user get nothing of it."""

import io
import logging
from collections.abc import Iterator

import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from accounts.models import User
from payments.models import InvoicePush, PushStatus, StripeAccount
from payments.services.push import invoice_push
from payments.standin import StripeStandIn
from tests.factories import CustomerFactory, UserFactory
from tests.payments.scenario import WEBHOOK_SECRET, billing_details, connect, finalized_invoice, stripe_key_for
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def stripe_base(standin: StripeStandIn, settings) -> str:
    settings.STRIPE_API_BASE = standin.url
    return standin.url


def test_connecting_checks_the_key_with_stripe_and_shows_only_its_hint(
    vendor, standin: StripeStandIn, stripe_base: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = stripe_key_for(vendor.organization)
    standin.account_add(key, name="Vendor Inc")
    client = login(vendor.admin)
    caplog.set_level(logging.DEBUG)

    refused = client.post("/settings/stripe/", {"secret_key": "sk_test_not_an_account_1234",
                                                "webhook_secret": WEBHOOK_SECRET})
    assert refused.status_code == 400 and "Stripe refused the key" in refused.content.decode()
    assert not StripeAccount.objects.exists()

    response = client.post("/settings/stripe/", {"secret_key": key, "webhook_secret": WEBHOOK_SECRET}, follow=True)
    page = response.content.decode()
    account = StripeAccount.objects.get(organization=vendor.organization)
    assert account.account_id == standin.accounts[key].id and account.account_name == "Vendor Inc"
    assert f"Stripe account {account.account_id} connected" in page
    assert "sk_test_…6789" in page and "/webhooks/stripe/vendor" in page
    # The secrets are stored encrypted and never come back: not in the page, the admin, the logs.
    assert key not in account.secret_key_encrypted and WEBHOOK_SECRET not in account.webhook_secret_encrypted
    ops = UserFactory.create(username="ops", is_staff=True, is_superuser=True, organization=None)
    admin_page = login(ops).get(f"/admin/payments/stripeaccount/{vendor.organization.pk}/change/").content.decode()
    assert StripeAccount in site._registry
    for text in (page, admin_page, caplog.text):
        assert key not in text and WEBHOOK_SECRET not in text
    assert "sk_test_…6789" in admin_page


def test_stripe_tax_is_turned_on_without_entering_the_key_again(vendor, standin: StripeStandIn,
                                                                stripe_base: str) -> None:
    connect(standin, vendor.organization)
    client = login(vendor.admin)
    assert client.post("/settings/stripe/", {"automatic_tax": "on"}).status_code == 302
    assert StripeAccount.objects.get(organization=vendor.organization).automatic_tax is True
    bad = client.post("/settings/stripe/", {"secret_key": "pk_test_publishable_123456"})
    assert bad.status_code == 400 and "starts with sk_test_" in bad.content.decode()


def test_only_a_vendor_admin_reaches_the_stripe_settings(vendor, finance_user: User) -> None:
    member = UserFactory.create(organization=vendor.organization, role=User.Role.VENDOR_MEMBER, username="member")
    assert login(member).get("/settings/stripe/").status_code == 403
    assert login(finance_user).get("/settings/stripe/").status_code == 403
    assert Client().get("/settings/stripe/").status_code == 302
    assert login(member).get("/payments/reconciliation/").status_code == 200  # members read it
    assert login(finance_user).get("/payments/reconciliation/").status_code == 403


def test_the_reconciliation_lists_a_failed_push_with_stripes_message_and_retries_it(
    vendor, stranger, standin: StripeStandIn, stripe_base: str, django_capture_on_commit_callbacks
) -> None:
    billing_details(vendor.customer)
    connected = connect(standin, vendor.organization)
    invoice = finalized_invoice(vendor.customer)
    standin.fail_next("POST", r"/v1/invoices", 400, "This customer has no address for Stripe Tax.",
                      type="invalid_request_error", code="customer_tax_location_invalid")
    invoice_push(invoice_id=invoice.pk)
    client = login(vendor.admin)

    page = client.get("/payments/reconciliation/").content.decode()
    assert invoice.number and invoice.number in page and "Push to Stripe failed: This customer has no address for Stripe Tax." in page
    detail = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="stripe-push-status">Failed<' in detail and "customer_tax_location_invalid" in detail

    # Another organization sees none of it and cannot push it.
    other = login(stranger.admin)
    assert str(invoice.number) not in other.get("/payments/reconciliation/").content.decode()
    assert other.post(f"/invoices/{invoice.pk}/stripe/retry/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):  # the push task, in-process here
        response = client.post(f"/invoices/{invoice.pk}/stripe/retry/", {"next": "reconciliation"})
    assert response.status_code == 302 and response["Location"] == "/payments/reconciliation/"
    push = InvoicePush.objects.get(invoice=invoice)
    assert push.status == PushStatus.PUSHED and len(standin.objects(connected.api_key, "invoice")) == 1
    assert "Stripe and Tally agree on every invoice." in client.get("/payments/reconciliation/").content.decode()
    invoice.refresh_from_db()
    assert invoice.payment_url == push.hosted_invoice_url  # the pay link on the invoice page and PDF


def test_a_customers_user_sees_the_payment_link_not_stripes_internals(
    vendor, finance_user: User, standin: StripeStandIn, stripe_base: str
) -> None:
    billing_details(vendor.customer)
    connect(standin, vendor.organization)
    invoice = finalized_invoice(vendor.customer)
    push = invoice_push(invoice_id=invoice.pk)
    assert push is not None and push.hosted_invoice_url
    client = login(finance_user)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'id="stripe-panel"' not in page and "Push to Stripe" not in page
    assert f'href="{push.hosted_invoice_url}"' in page and "Pay 5.95 USD online" in page
    response = client.get(f"/invoices/{invoice.pk}/invoice.pdf")
    pdf = PdfReader(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert f"Pay online: {push.hosted_invoice_url}" in pdf.pages[0].extract_text().replace("\n", "")


def test_the_reconciliation_page_reads_a_fixed_number_of_queries(vendor, standin: StripeStandIn,
                                                                 stripe_base: str) -> None:
    """No N+1: twice the disagreements, the same queries."""
    connect(standin, vendor.organization)
    client = login(vendor.admin)

    def disagree(count: int, start: int) -> None:
        for index in range(start, start + count):
            customer = billing_details(CustomerFactory.create(organization=vendor.organization, external_id=f"c{index}"))
            invoice = finalized_invoice(customer, prefix=f"c{index}-")
            InvoicePush.objects.create(organization=vendor.organization, invoice=invoice, status=PushStatus.FAILED,
                                       last_error=f"refused {index}")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/payments/reconciliation/")
        assert page.status_code == 200
        return len(captured)

    disagree(2, 0)
    two = queries()
    disagree(2, 2)
    assert queries() == two
    assert "refused 3" in client.get("/payments/reconciliation/").content.decode()
