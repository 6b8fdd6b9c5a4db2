"""The portal's own error pages, DEBUG on or off, its favicon, and the wording of labels people read."""

from decimal import Decimal

import pytest
from django.test import Client

from portal.templatetags.portal_format import period, volume_tiers
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db


def test_unknown_page_gets_the_portal_404_even_with_debug_on(settings, finance_user) -> None:
    settings.DEBUG = True
    response = login(finance_user).get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing here" in body and "Back to the portal" in body
    assert "Django" not in body and "URLconf" not in body  # not the technical page
    assert 'class="code">404<' in body


def test_another_customers_invoice_is_the_portal_404_with_debug_on(settings, billed, globex_finance) -> None:
    settings.DEBUG = True
    acme_invoice = billed.invoice("acme", "2026-10")
    response = login(globex_finance).get(f"/invoices/{acme_invoice.pk}/")
    assert response.status_code == 404
    assert b"There is nothing here" in response.content and b"Traceback" not in response.content


@pytest.mark.urls("tests.portal.error_urls")
@pytest.mark.parametrize("debug", [False, True])
def test_a_crash_gets_the_styled_500_page_never_the_debug_page(settings, debug, finance_user) -> None:
    settings.DEBUG = debug
    client = login(finance_user)
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something broke on our side" in body and 'class="code">500<' in body
    assert "the database went away" not in body and "Traceback" not in body
    assert "portal/favicon.svg" in body  # styled: the portal's frame


@pytest.mark.urls("tests.portal.error_urls")
def test_a_crash_under_the_api_answers_json(settings) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_pages_link_the_favicon_and_it_is_served(finance_user) -> None:
    page = login(finance_user).get("/invoices/")
    assert b'rel="icon"' in page.content and b"/static/portal/favicon.svg" in page.content
    icon = Client().get("/static/portal/favicon.svg")
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]
    legacy = Client().get("/favicon.ico")
    assert legacy.status_code == 301 and legacy["Location"].endswith("/static/portal/favicon.svg")


def test_volume_tiers_read_as_volume_pricing() -> None:
    tiers = [{"up_to": 500, "unit_price": "4.00"}, {"up_to": None, "unit_price": "3.50"}]
    assert volume_tiers(tiers, "USD") == [
        "all at 4.00 USD while the month stays within 500",
        "all at 3.50 USD once the month passes 500",
    ]


def test_the_current_month_says_month_to_date() -> None:
    from django.utils import timezone

    from core.periods import Period

    current = Period.of(timezone.now())
    assert "month to date" in period(current)
    assert "month to date" in period(current.label)
    assert period(current.previous().label) == current.previous().label


def test_the_volume_price_book_shows_volume_wording(vendor, as_user) -> None:
    from billing.services.price_books import EntrySpec, price_book_create
    from core.periods import Period
    from tests.factories import OutcomeTypeFactory

    OutcomeTypeFactory.create(organization=vendor.organization, code="ticket_resolved", name="Ticket resolved",
                              price=Decimal("1"))
    price_book_create(
        customer=vendor.customer, effective_from=Period.of(__import__("datetime").date(2026, 1, 1)), currency="USD",
        entries=[EntrySpec(outcome="ticket_resolved", model="volume",
                           tiers=[{"up_to": 500, "unit_price": "4.00"}, {"up_to": None, "unit_price": "3.50"}])],
    )
    page = as_user(vendor.admin).get(f"/customers/{vendor.customer.external_id}/").content.decode()
    assert "all at 3.50 USD once the month passes 500" in page
    assert "beyond" not in page
