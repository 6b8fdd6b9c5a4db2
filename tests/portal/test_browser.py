"""One real browser walk through the customer portal: log in, open an invoice, follow a line to its
task, download the CSV; and screenshots of both ROI dashboards.

Needs Debian's `chromium` package (/usr/bin/chromium); Playwright drives it, it downloads no browser.
Set PORTAL_SCREENSHOTS=/some/dir to keep the screenshots.
"""

import contextlib
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.portal.conftest import build_history

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"  # tests.factories.UserFactory's

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """The system chromium under Playwright. Open it only after the test's database work is done: code
    inside Playwright's sync API runs in another greenlet, whose ORM connection nobody would close."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _screenshot(page, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("PORTAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_finance_user_follows_an_invoice_line_to_its_task_and_downloads_the_csv(
    transactional_db, live_server, vendor, globex, finance_user, tmp_path
) -> None:
    billed = build_history(vendor, globex, contextlib.nullcontext)
    invoice = billed.invoice("acme", "2026-10")
    line_count = invoice.lines.count()
    with chromium() as browser:
        _walk(
            browser,
            live_server.url,
            invoice.pk,
            line_count,
            finance_user.username,
            vendor.admin.username,
            tmp_path,
        )


def _walk(
    browser,
    base: str,
    invoice_id: int,
    line_count: int,
    customer_login: str,
    vendor_login: str,
    tmp_path: Path,
) -> None:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1360, "height": 900})
    page = context.new_page()

    _log_in(page, base, customer_login)
    assert page.locator("h1").inner_text().startswith("Invoices")
    assert page.get_by_text("Globex").count() == 0

    page.locator("tr", has_text="2026-10").get_by_role("link").first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/invoices/{invoice_id}/")

    page.get_by_role("link", name="ticket-2026-10-1", exact=True).click()
    page.wait_for_load_state()
    assert "Task ticket-2026-10-1" in page.locator("h1").inner_text()
    assert page.get_by_text("direction=input").count() >= 1
    assert page.get_by_text("Cost to serve").count() == 0

    page.go_back()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert download.suggested_filename.endswith(".csv")
    assert "ticket-2026-10-1" in text and "cost_to_serve" not in text
    assert len(text.strip().splitlines()) == line_count + 1

    page.goto(f"{base}/roi/")
    assert page.locator("svg.chart").count() == 2
    assert page.get_by_text("Cost to serve").count() == 0
    assert _screenshot(page, tmp_path, "roi-customer.png").stat().st_size > 10_000

    vendor_page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    _log_in(vendor_page, base, vendor_login)
    vendor_page.goto(f"{base}/customers/acme/")
    assert vendor_page.get_by_text("Cost to serve").count() >= 1
    _screenshot(vendor_page, tmp_path, "roi-vendor.png")
    vendor_page.goto(f"{base}/customers/")
    _screenshot(vendor_page, tmp_path, "customers.png")
    vendor_page.goto(f"{base}/invoices/{invoice_id}/")
    _screenshot(vendor_page, tmp_path, "invoice-vendor.png")
    context.close()


def test_vendor_admin_issues_a_credit_note_and_settles_a_dispute_in_the_browser(
    transactional_db, live_server, vendor, finance_user, tmp_path
) -> None:
    from billing.services.credit_notes import CreditSpec, credit_note_create
    from outcomes.services import outcome_event_dispute
    from tests.portal.conftest import build_priced

    priced = build_priced(vendor)
    credit_note_create(
        invoice=priced.october,
        reason="Ticket o-task-5 was a duplicate of o-task-4",
        items=[CreditSpec(Decimal("1.50"), "Credit: duplicate ticket", priced.october.lines.get(position=6))],
    )
    outcome_event_dispute(
        organization=vendor.organization,
        idempotency_key="n1",
        reason="This ticket was closed by our own staff, not by the agent",
        actor_user=finance_user,
        customer_id=vendor.customer.pk,
    )
    october, november = priced.october.pk, priced.november.pk
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
        _log_in(page, live_server.url, vendor.admin.username)

        page.goto(f"{live_server.url}/invoices/{november}/")
        assert page.get_by_text("Prior period 2026-10", exact=False).count() >= 1
        _screenshot(page, tmp_path, "invoice-draft-actions.png")
        page.get_by_role("link", name="Finalize").click()
        page.wait_for_load_state()
        _screenshot(page, tmp_path, "invoice-finalize-confirm.png")
        page.get_by_role("button", name="Finalize invoice").click()
        page.wait_for_load_state()
        assert page.get_by_text("Invoice INV-000002 finalized.").count() == 1

        page.goto(f"{live_server.url}/invoices/{october}/")
        assert page.get_by_text("CN-000001", exact=False).count() >= 1
        _screenshot(page, tmp_path, "invoice-vendor-actions.png")
        page.get_by_role("link", name="Issue credit note").click()
        page.wait_for_load_state()
        _screenshot(page, tmp_path, "credit-note-form.png")

        page.goto(f"{live_server.url}/disputes/")
        _screenshot(page, tmp_path, "disputes.png")
        page.fill("textarea[name=note]", "Checked the logs: the agent closed it")
        page.get_by_role("button", name="Reject").click()
        page.wait_for_load_state()
        assert page.get_by_text("rejected", exact=False).count() >= 1
        _screenshot(page, tmp_path, "disputes-resolved.png")

        page.goto(f"{live_server.url}/customers/acme/")
        _screenshot(page, tmp_path, "customer-account.png")
