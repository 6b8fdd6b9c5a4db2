"""ROI dashboards: the customer's (value, billed, ROI) and the vendor's (plus cost to serve and margin)."""

import pytest
from django.urls import reverse

from billing.models import RoiReport
from core.money import round_money
from tests.portal.conftest import PERIODS, login

pytestmark = pytest.mark.django_db


def test_customer_dashboard_shows_value_billed_roi_and_charts(billed, finance_user) -> None:
    report = RoiReport.objects.get(customer=billed.acme, period_start="2026-10-01")

    response = login(finance_user).get(reverse("portal:roi"))

    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert dashboard.period.label == "2026-10"  # the latest period by default
    assert dashboard.figures["value_delivered"] == report.value_delivered.quantize(
        dashboard.figures["billed"]
    )
    assert dashboard.outcome_count == sum(report.outcomes.values())
    assert [c.label for c in dashboard.trend_chart.categories] == PERIODS
    content = response.content.decode()
    assert content.count("<svg") == 2
    assert "Ticket resolved" in content and "Code review completed" in content
    assert "Value delivered" in content and "ROI" in content


def test_customer_never_sees_cost_to_serve_or_margin(billed, finance_user) -> None:
    response = login(finance_user).get(reverse("portal:roi"))

    figures = response.context["dashboard"].figures
    assert not {"cost_to_serve", "margin", "unbilled_cost", "cost_per_outcome"} & set(figures)
    for row in response.context["dashboard"].trend:
        assert "cost_to_serve" not in row
    content = response.content.decode()
    assert "Cost to serve" not in content and "Margin" not in content and "Unbilled" not in content


def test_vendor_customer_page_adds_cost_margin_and_a_cost_series(billed, vendor) -> None:
    response = login(vendor.admin).get(
        reverse("portal:customer-detail", args=["acme"]), {"period": "2026-09"}
    )

    dashboard = response.context["dashboard"]
    assert dashboard.period.label == "2026-09"
    assert dashboard.figures["cost_to_serve"] > 0
    report = RoiReport.objects.get(customer=billed.acme, period_start="2026-09-01")
    # the margin is billed minus the cost shown (rounded once), so the page adds up to the cent
    assert dashboard.figures["cost_to_serve"] == round_money(report.cost_to_serve, "USD")
    assert dashboard.figures["margin"] == dashboard.figures["billed"] - dashboard.figures["cost_to_serve"]
    assert dashboard.figures["unbilled_cost"] > 0  # the abandoned task
    assert (
        dashboard.figures["cost_of_billed_tasks"] + dashboard.figures["unbilled_cost"]
        == dashboard.figures["cost_to_serve"]
    )
    content = response.content.decode()
    assert "Cost of billed tasks" in content and "Unbilled cost" in content
    assert [s.name for s in dashboard.trend_chart.legend] == ["Value delivered", "Billed", "Cost to serve"]
    assert [c.label for c in dashboard.trend_chart.categories] == ["2026-08", "2026-09"]
    assert b"Cost to serve" in response.content


def test_a_period_without_report_or_a_bad_period_is_explained(billed, finance_user) -> None:
    client = login(finance_user)
    missing = client.get(reverse("portal:roi"), {"period": "2025-01"})
    bad = client.get(reverse("portal:roi"), {"period": "January"})

    assert missing.status_code == bad.status_code == 200
    assert b"No ROI report for 2025-01" in missing.content
    assert b"not a period YYYY-MM" in bad.content


def test_dashboard_without_any_report_has_an_empty_state(finance_user) -> None:
    response = login(finance_user).get(reverse("portal:roi"))
    assert response.status_code == 200
    assert b"No ROI report yet" in response.content


def test_customer_users_cannot_open_vendor_pages(billed, finance_user) -> None:
    client = login(finance_user)
    for url in (
        reverse("portal:customer-list"),
        reverse("portal:customer-detail", args=["acme"]),
        reverse("portal:customer-roi-csv", args=["acme"]),
        reverse("portal:run-list"),
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Your account may not open this page" in response.content


def test_another_organizations_customer_page_is_not_found(billed, stranger) -> None:
    # The stranger has a customer with the same external id: it sees its own, empty, never the vendor's.
    response = login(stranger.admin).get(reverse("portal:customer-detail", args=["acme"]))
    assert response.status_code == 200
    assert response.context["customer"].organization_id == stranger.organization.pk
    assert response.context["dashboard"].figures is None
    assert login(stranger.admin).get(reverse("portal:customer-detail", args=["globex"])).status_code == 404


def test_vendor_roi_url_sends_the_vendor_to_the_customer_list(billed, vendor) -> None:
    response = login(vendor.admin).get(reverse("portal:roi"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:customer-list")


def test_roi_page_query_count_is_pinned(billed, finance_user, django_assert_num_queries) -> None:
    client = login(finance_user)
    # session, user, organization, customer, periods, report, history, the figures (charges, credit
    # notes, outcomes by type, billed tasks' cost), outcome type names; the account panels: price book
    # versions, wallet grants, notifications
    with django_assert_num_queries(15):
        client.get(reverse("portal:roi"))
