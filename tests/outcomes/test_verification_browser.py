"""A real browser confirms outcomes as a customer: from the portal's Confirm outcomes page (confirm one,
reject another with a reason) and from the emailed one-click link, logged out.

Needs Debian's `chromium` package (/usr/bin/chromium); Playwright drives it, it downloads no browser.
"""

import pytest

from outcomes.confirmation_requests import confirmation_link_url
from outcomes.models import Dispute, OutcomeEvent
from tests.billing.scenario import post_outcomes
from tests.factories import OutcomeTypeFactory
from tests.portal.test_browser import CHROMIUM, _log_in, chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_a_customer_confirms_and_rejects_outcomes_in_the_browser(
    transactional_db, live_server, vendor, finance_user, settings
) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, verification_methods=["customer_confirmation"])
    post_outcomes(vendor.organization, [
        {"idempotency_key": key, "customer": "acme", "outcome": "ticket_resolved", "task_id": task,
         "timestamp": "2026-10-05T12:00:00Z"}
        for key, task in (("o1", "ZD-1001"), ("o2", "ZD-1002"), ("o3", "ZD-1003"))
    ])
    settings.PORTAL_PUBLIC_URL = live_server.url
    link = confirmation_link_url(event=OutcomeEvent.objects.get(idempotency_key="o3"))

    with chromium() as browser:
        page = browser.new_page()
        _log_in(page, live_server.url, finance_user.username)
        page.click("text=Confirm outcomes")
        page.wait_for_load_state()
        assert page.locator("tbody tr").count() == 3

        page.locator("tr", has_text="ZD-1001").locator("button", has_text="Confirm").click()
        page.wait_for_load_state()
        page.wait_for_selector("text=Confirmed Ticket resolved for task ZD-1001")
        row = page.locator("tr", has_text="ZD-1002")
        row.locator("summary", has_text="Reject").click()
        row.locator("textarea").fill("The ticket was closed by our own staff.")
        row.locator("button", has_text="Reject outcome").click()
        page.wait_for_load_state()
        page.wait_for_selector("text=a dispute is open")
        remaining = page.locator("tbody tr").all_inner_texts()

        outsider = browser.new_page()  # the email's reader: no session
        outsider.goto(link)
        outsider.wait_for_selector("text=ZD-1003")
        outsider.click("button:has-text('Confirm this outcome')")
        outsider.wait_for_selector("text=the outcome is confirmed")

    assert len(remaining) == 1 and "ZD-1003" in remaining[0]
    statuses = dict(OutcomeEvent.objects.values_list("idempotency_key", "status"))
    assert statuses == {"o1": "verified", "o2": "disputed", "o3": "verified"}
    assert Dispute.objects.get(outcome_event__idempotency_key="o2").reason.endswith("closed by our own staff.")
    assert OutcomeEvent.objects.get(idempotency_key="o1").evidence.get().actor_user == finance_user
    assert OutcomeEvent.objects.get(idempotency_key="o3").evidence.get().actor_label == "link:acme"
