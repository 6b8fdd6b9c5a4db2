"""Real browser walks (Debian's chromium under Playwright): a customer approves a baseline, an outsider
opens a shared receipt and sees it verify (and fail once tampered), a vendor runs the simulator."""

import contextlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from billing.services.finalize import invoice_finalize
from core.periods import period_parse
from tests.portal.conftest import build_history
from tests.portal.test_browser import CHROMIUM, _log_in, _screenshot, chromium
from value.models import Baseline, ValueReceipt
from value.services.baselines import BaselineSpec, baseline_propose

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_customer_approves_a_baseline_and_the_roi_uses_it(transactional_db, live_server, vendor, globex,
                                                          finance_user, tmp_path) -> None:
    build_history(vendor, globex, contextlib.nullcontext)
    baseline = baseline_propose(customer=vendor.customer, acting_user=vendor.admin, spec=BaselineSpec(
        outcome="ticket_resolved", effective_from=period_parse("2026-09"), method="minutes", currency="USD",
        minutes=Decimal(20), hourly_cost=Decimal("45.00"), note="Agent time, loaded"))
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        _log_in(page, live_server.url, finance_user.username)
        page.get_by_role("link", name="Baselines & receipts").click()
        page.wait_for_load_state()
        row = page.locator(f"#baseline-{baseline.pk}")
        assert "15.00 USD" in row.inner_text() and "Proposed" in row.inner_text()
        row.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()
        assert "approved" in page.locator(".messages").inner_text()
        assert "Approved" in page.locator(f"#baseline-{baseline.pk}").inner_text()
        assert page.get_by_role("button", name="Approve").count() == 0
        _screenshot(page, tmp_path, "value-baselines-customer.png")
    baseline.refresh_from_db()
    assert baseline.status == Baseline.Status.APPROVED and baseline.decided_by == finance_user


def test_an_outsider_opens_a_shared_receipt_and_sees_it_verify(transactional_db, live_server, vendor, globex,
                                                               tmp_path) -> None:
    billed = build_history(vendor, globex, contextlib.nullcontext)
    invoice_finalize(invoice=billed.invoice("acme", "2026-09"))  # issues the receipt on commit
    receipt = ValueReceipt.objects.get(customer=vendor.customer)
    url = f"{live_server.url}/value/receipts/share/{receipt.share_token}/"
    with chromium() as browser:
        context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
        page = context.new_page()  # nobody logged in
        page.goto(url)
        assert page.locator("#verification h2").inner_text().endswith("Verified")
        assert receipt.content_hash in page.content()
        assert page.get_by_role("button", name="Log out").count() == 0
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download JSON").click()
        document = json.loads(Path(download_info.value.path()).read_text())
        assert document["content_hash"] == receipt.content_hash
        _screenshot(page, tmp_path, "value-receipt-shared.png")
        context.close()
    # Someone alters the stored receipt behind the guard's back: the same link now says so.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE value_valuereceipt DISABLE TRIGGER USER")
        cursor.execute("UPDATE value_valuereceipt SET content = replace(content, '\"roi\":', '\"roi\": ') "
                       "WHERE id = %s", [receipt.pk])
        cursor.execute("ALTER TABLE value_valuereceipt ENABLE TRIGGER USER")
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.goto(url)
        assert "does not verify" in page.locator("#verification h2").inner_text()


def test_vendor_runs_the_simulator(transactional_db, live_server, vendor, globex, tmp_path) -> None:
    build_history(vendor, globex, contextlib.nullcontext)
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
        _log_in(page, live_server.url, vendor.admin.username)
        page.get_by_role("link", name="Value").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Pricing simulator"
        page.select_option("select[name=customer]", "acme")
        page.select_option("select[name=period]", ["2026-09", "2026-10"])
        page.fill("input[name=token_markup]", "0.25")
        page.fill("input[name=hybrid_fee]", "10")
        page.get_by_role("button", name="Simulate").click()
        page.wait_for_load_state()
        totals = page.locator("#totals").inner_text()
        assert "Price book (per outcome)" in totals and "Per token at markup" in totals
        assert page.locator("svg.chart").count() == 2
        rows = page.locator("table").last.locator("tbody tr")
        assert rows.count() == 2 and all(text.startswith("acme") for text in rows.all_inner_texts())
        _screenshot(page, tmp_path, "value-simulator.png")
