"""In the browser (Debian's chromium through Playwright): a vendor admin connects Stripe (the stand-in) on the
console's Stripe page, pushes an invoice finalized before, follows its payment link to Stripe's hosted
page and pays; the invoice page then shows it paid, through Stripe's signed webhook."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from billing.models import Invoice
from payments.models import InvoicePush, PushStatus
from payments.standin import StripeStandIn
from tests.payments.scenario import WEBHOOK_SECRET, billing_details, finalized_invoice, stripe_key_for
from tests.portal.test_browser import CHROMIUM, _log_in, _screenshot, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    server = StripeStandIn().start()
    yield server
    server.stop()


def test_a_vendor_connects_stripe_pushes_an_invoice_and_its_payment_comes_back(
    transactional_db, live_server, vendor, standin: StripeStandIn, settings, tmp_path: Path
) -> None:
    settings.STRIPE_API_BASE = standin.url
    billing_details(vendor.customer)
    invoice = finalized_invoice(vendor.customer)  # before Stripe was connected: not pushed
    key = stripe_key_for(vendor.organization)
    standin.account_add(key, name="Vendor Inc", webhook_url=f"{live_server.url}/webhooks/stripe/vendor",
                        webhook_secret=WEBHOOK_SECRET)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        _log_in(page, live_server.url, vendor.admin.username)
        page.get_by_role("link", name="Payments").click()
        page.get_by_role("link", name="Stripe settings").click()
        page.fill("#id_secret_key", key)
        page.fill("#id_webhook_secret", WEBHOOK_SECRET)
        page.get_by_role("button", name="Check key and connect").click()
        page.wait_for_load_state()
        assert "connected (sk_test_…6789)" in page.locator(".messages").inner_text()
        assert page.locator("#secret-key-hint").inner_text() == "sk_test_…6789"
        assert key not in page.content()
        _screenshot(page, tmp_path, "stripe-settings.png")

        page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        page.locator("#stripe-retry").click()
        page.wait_for_load_state()
        assert page.locator("#stripe-push-status").inner_text() == "Pushed"
        assert page.locator("#stripe-remote-status").inner_text() == "open"
        page.get_by_role("link", name="Stripe's hosted invoice").click()
        page.wait_for_load_state()
        page.get_by_role("button", name="Pay 5.95 USD").click()
        page.wait_for_load_state()
        assert "The webhook answered 200" in page.content()

        page.goto(f"{live_server.url}/invoices/{invoice.pk}/")
        assert page.locator("#stripe-remote-status").inner_text() == "paid"
        _screenshot(page, tmp_path, "stripe-invoice-paid.png")
        page.goto(f"{live_server.url}/payments/reconciliation/")
        assert "Stripe and Tally agree on every invoice." in page.content()

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.amount_paid == invoice.total
    assert InvoicePush.objects.get(invoice=invoice).status == PushStatus.PUSHED
