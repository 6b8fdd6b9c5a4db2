"""The account panels: the price book in force, the prepaid wallet and the spend-cap alerts, on the
vendor's customer page and on the customer's own ROI page, and nowhere else."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.services.wallet import credit_grant_create
from tests.portal.conftest import Priced, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def topped_up(priced: Priced) -> Priced:
    """October's finalization drew the launch credit down to zero; a second grant is still unused."""
    credit_grant_create(
        customer=priced.vendor.customer,
        amount=Decimal("40"),
        currency="USD",
        description="Pilot credit",
        granted_at=datetime(2026, 11, 2, tzinfo=UTC),
        expires_at=datetime(2027, 3, 31, tzinfo=UTC),
    )
    return priced


def test_vendor_customer_page_shows_book_wallet_and_alerts(topped_up: Priced) -> None:
    html = (
        login(topped_up.vendor.admin).get(reverse("portal:customer-detail", args=["acme"])).content.decode()
    )

    assert "Price book · version 1" in html and "In force since 2026-10" in html
    assert "Graduated tiers" in html and "up to 3: 2.00 USD" in html and "beyond: 1.50 USD" in html
    assert "10.00 USD per period" in html  # the platform fee
    assert "1 per period" in html and "12.00 USD per period" in html  # included outcomes, spend cap
    assert "Pilot credit" in html and "40.00 USD" in html and "2027-03-31" in html
    assert "Launch credit" not in html  # spent by October's invoice
    assert "reached 80% of its 12 USD spend cap for 2026-10" in html
    assert "reached 50% of its 12 USD spend cap for 2026-10" in html


def test_customer_reads_its_own_book_wallet_and_alerts(topped_up: Priced, finance_user) -> None:
    response = login(finance_user).get(reverse("portal:roi"))
    html = response.content.decode()
    assert response.context["account"].wallet_balance == Decimal("40")
    assert "Price book · version 1" in html and "Pilot credit" in html
    assert "reached 80% of its 12 USD spend cap" in html


def test_another_customer_sees_none_of_acmes_account(topped_up: Priced, globex_finance) -> None:
    response = login(globex_finance).get(reverse("portal:roi"))
    html = response.content.decode()
    assert response.context["account"].notifications == []
    assert response.context["account"].grants == [] and response.context["account"].book is None
    assert "Pilot credit" not in html and "spend cap" not in html.replace("Spend-cap alerts appear", "")


def test_stranger_cannot_open_the_vendors_customer_account(topped_up: Priced, stranger) -> None:
    client = login(stranger.admin)
    own_acme = client.get(reverse("portal:customer-detail", args=["acme"]))  # the stranger's own "acme"
    assert own_acme.status_code == 200
    assert own_acme.context["account"].notifications == [] and own_acme.context["account"].grants == []
    assert b"Pilot credit" not in own_acme.content and b"version 1" not in own_acme.content
    assert client.get(reverse("portal:customer-detail", args=["globex"])).status_code == 404


def test_customer_user_cannot_open_the_vendors_customer_page(topped_up: Priced, finance_user) -> None:
    assert login(finance_user).get(reverse("portal:customer-detail", args=["acme"])).status_code == 403


def test_customer_page_query_count_with_a_book(topped_up: Priced, django_assert_num_queries) -> None:
    client = login(topped_up.vendor.admin)
    response = client.get(reverse("portal:customer-detail", args=["acme"]))
    assert response.status_code == 200
    baseline = len(response.context["account"].notifications)
    # Adding grants and versions must not add queries: the panels read each in one go.
    credit_grant_create(customer=topped_up.vendor.customer, amount=Decimal("3"), currency="USD")
    from billing.services.price_books import EntrySpec, price_book_create
    from tests.billing.scenario import NOVEMBER

    price_book_create(
        customer=topped_up.vendor.customer,
        effective_from=NOVEMBER,
        currency="USD",
        entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("1.10"))],
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        client.get(reverse("portal:customer-detail", args=["acme"]))
    credit_grant_create(customer=topped_up.vendor.customer, amount=Decimal("4"), currency="USD")
    with django_assert_num_queries(len(before)):
        response = client.get(reverse("portal:customer-detail", args=["acme"]))
    assert response.context["account"].book.version == 2
    assert len(response.context["account"].grants) == 3
    assert len(response.context["account"].notifications) == baseline
