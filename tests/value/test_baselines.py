"""Baselines: proposed by the vendor, approved by the customer; the ROI figures value outcomes at the
baseline in force, on every surface, and say whether it was approved or only proposed."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import ApiKey
from accounts.services import api_key_create
from billing.audience import Audience
from billing.selectors.roi import period_figures_list, roi_get
from core.errors import DomainError, InvalidState, NotFound
from core.periods import period_parse
from tests.conftest import ApiClient
from tests.portal.conftest import Billed, login
from value.models import Baseline
from value.services.baselines import BaselineSpec, baseline_decide, baseline_propose

pytestmark = [pytest.mark.django_db]

SEPTEMBER = period_parse("2026-09")


def _propose(billed: Billed, **overrides: object) -> Baseline:
    values: dict[str, object] = {"outcome": "ticket_resolved", "effective_from": SEPTEMBER, "method": "minutes",
                                 "currency": "USD", "minutes": Decimal(12), "hourly_cost": Decimal("60.00")}
    values.update(overrides)
    return baseline_propose(customer=billed.acme, spec=BaselineSpec(**values), acting_user=billed.vendor.admin)  # type: ignore[arg-type]


def _figures(billed: Billed, period: str) -> dict[str, object]:
    report = roi_get(customer=billed.acme, period=period_parse(period))
    return period_figures_list(reports=[report])[0].as_dict()


def test_value_delivered_uses_the_baseline_in_force_and_says_it_was_only_proposed(billed: Billed) -> None:
    before = _figures(billed, "2026-09")
    baseline = _propose(billed)
    assert baseline.value_per_outcome == Decimal(12)  # 12 minutes at 60.00 an hour
    after = _figures(billed, "2026-09")
    tickets = before["outcomes"]["ticket_resolved"]  # type: ignore[index]
    # Each ticket was worth the type's estimate, 6.50; now the customer's own 12.00.
    assert after["value_delivered"] == before["value_delivered"] + tickets * (Decimal(12) - Decimal("6.50"))
    basis = after["value_basis"]["ticket_resolved"]  # type: ignore[index]
    assert basis["basis"] == "baseline" and basis["baseline"]["status"] == "proposed"
    assert basis["baseline"]["version"] == 1
    assert after["value_basis"]["code_review_completed"]["basis"] == "estimate"  # type: ignore[index]
    # A period before the baseline takes effect keeps the estimate.
    assert _figures(billed, "2026-08")["value_basis"]["ticket_resolved"]["basis"] == "estimate"  # type: ignore[index]

    assert b"baseline v1, only proposed" in login(billed.vendor.admin).get(
        "/customers/acme/", {"period": "2026-09"}).content
    baseline_decide(baseline=baseline, customer=billed.acme, approve=True)
    approved = _figures(billed, "2026-09")
    assert approved["value_basis"]["ticket_resolved"]["baseline"]["status"] == "approved"  # type: ignore[index]
    assert approved["value_delivered"] == after["value_delivered"]


def test_the_page_the_export_and_the_api_show_the_same_value_delivered(billed: Billed, finance_user) -> None:
    baseline = _propose(billed, method="flat", flat_value=Decimal("9.25"), minutes=None, hourly_cost=None)
    baseline_decide(baseline=baseline, customer=billed.acme, approve=True)
    expected = _figures(billed, "2026-10")["value_delivered"]
    _, raw = api_key_create(organization=billed.vendor.organization, customer=billed.acme, scope=ApiKey.Scope.READ)
    api = ApiClient(raw).get("/api/v1/customers/acme/roi", period="2026-10").json()
    assert Decimal(api["value_delivered"]) == expected
    assert api["value_basis"]["ticket_resolved"]["baseline"]["status"] == "approved"
    export = login(finance_user).get("/roi/roi.csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r.get("period") == "2026-10")
    assert Decimal(row["value_delivered"]) == expected
    page = login(finance_user).get("/roi/", {"period": "2026-10"})
    assert f"{expected:,}".encode() in page.content or str(expected).encode() in page.content
    assert b"ticket_resolved at the customer's baseline v1, approved" in page.content


def test_a_customer_key_approves_its_own_baseline_and_nobody_else_can(billed: Billed, stranger) -> None:
    proposed = billed.vendor.api.post("/api/v1/customers/acme/baselines", {
        "outcome": "ticket_resolved", "effective_from": "2026-09", "method": "minutes", "currency": "USD",
        "minutes": "15", "hourly_cost": "48.00"})
    assert proposed.status_code == 201, proposed.content
    baseline_id = proposed.json()["id"]
    assert proposed.json()["value_per_outcome"] == "12.000000" or Decimal(proposed.json()["value_per_outcome"]) == 12
    url = f"/api/v1/customers/acme/baselines/{baseline_id}/approve"
    # The vendor may not approve its own proposal; another customer's key and a stranger get 404/403.
    assert billed.vendor.api.post(url).status_code == 403
    _, globex_key = api_key_create(organization=billed.vendor.organization, customer=billed.globex,
                                   scope=ApiKey.Scope.READ)
    assert ApiClient(globex_key).post(url).status_code == 404
    assert ApiClient(globex_key).post(f"/api/v1/customers/globex/baselines/{baseline_id}/approve").status_code == 404
    assert stranger.api.post(url).status_code == 403
    _, acme_key = api_key_create(organization=billed.vendor.organization, customer=billed.acme, scope=ApiKey.Scope.READ)
    approved = ApiClient(acme_key).post(url)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by_label"].startswith("api:")
    again = ApiClient(acme_key).post(url)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_bad_proposals_name_the_field(billed: Billed) -> None:
    cases = [
        ({"method": "minutes", "minutes": "0", "hourly_cost": "60"}, "minutes"),
        ({"method": "minutes", "minutes": "10"}, "hourly_cost"),
        ({"method": "flat"}, "flat_value"),
        ({"method": "flat", "flat_value": "1.001"}, "flat_value"),
        ({"method": "flat", "flat_value": "5", "currency": "EUR"}, "currency"),
        ({"method": "flat", "flat_value": "5", "outcome": "nope"}, "outcome"),
        ({"method": "flat", "flat_value": "5", "effective_from": "2026-13"}, "effective_from"),
    ]
    for overrides, field in cases:
        body = {"outcome": "ticket_resolved", "effective_from": "2026-09", "currency": "USD", **overrides}
        response = billed.vendor.api.post("/api/v1/customers/acme/baselines", body)
        assert response.status_code == 400, (overrides, response.content)
        assert field in response.json().get("errors", {}), (overrides, response.json())
    assert not Baseline.objects.exists()


def test_a_version_never_changes_and_is_decided_once(billed: Billed) -> None:
    baseline = _propose(billed)
    second = _propose(billed, minutes=Decimal(20))
    assert (baseline.version, second.version) == (1, 2)
    # The later version is the one in force from its month.
    assert _figures(billed, "2026-09")["value_basis"]["ticket_resolved"]["baseline"]["version"] == 2  # type: ignore[index]
    baseline_decide(baseline=second, customer=billed.acme, approve=False)
    assert _figures(billed, "2026-09")["value_basis"]["ticket_resolved"]["baseline"]["version"] == 1  # type: ignore[index]
    with pytest.raises(InvalidState):
        baseline_decide(baseline=second, customer=billed.acme, approve=True)
    with pytest.raises(NotFound):
        baseline_decide(baseline=baseline, customer=billed.globex, approve=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Baseline.objects.filter(pk=baseline.pk).update(value_per_outcome=Decimal(99))
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM value_baseline WHERE id = %s", [baseline.pk])
    with pytest.raises(DomainError):
        _propose(billed, currency="EUR")


def test_customers_never_see_cost_in_the_value_basis(billed: Billed) -> None:
    _propose(billed)
    report = roi_get(customer=billed.acme, period=SEPTEMBER)
    visible = period_figures_list(reports=[report])[0].visible(audience=Audience.CUSTOMER)
    assert "value_basis" in visible and "cost_to_serve" not in visible
