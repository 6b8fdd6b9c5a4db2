"""Margin guardrails and the budget endpoint; the efficiency report's figures, outliers and failed share."""

from decimal import Decimal

import pytest

from core.periods import period_parse
from tests.portal.conftest import Billed
from value.models import BudgetAlert
from value.selectors.efficiency import efficiency_report

pytestmark = [pytest.mark.django_db]


def test_the_budget_endpoint_answers_cost_so_far_against_the_ceiling(billed: Billed, stranger) -> None:
    api = billed.vendor.api
    url = "/api/v1/customers/acme/tasks/pr-2026-09/budget"
    open_ended = api.get(url).json()
    assert open_ended["ceiling"] is None and open_ended["within"] is True
    # pr-2026-09: 400,000 input tokens at 2.50/M = 1.00; its review is priced 4.00.
    assert Decimal(open_ended["cost_so_far"]) == Decimal("1.00")
    assert api.post("/api/v1/guardrails", {"outcome": "code_review_completed", "max_cost_share": "0.30"}).status_code == 201
    within = api.get(url).json()
    assert within == {"task_id": "pr-2026-09", "outcome": "code_review_completed", "cost_so_far": within["cost_so_far"],
                      "ceiling": "1.20", "within": True, "currency": "USD"}
    assert api.post("/api/v1/guardrails", {"outcome": "code_review_completed", "max_cost_share": "0.20"}).status_code == 201
    over = api.get(url).json()
    assert over["ceiling"] == "0.80" and over["within"] is False
    assert BudgetAlert.objects.filter(task_id="pr-2026-09").count() == 1
    api.get(url)
    assert BudgetAlert.objects.filter(task_id="pr-2026-09").count() == 1  # recorded once
    # A running task with no outcome yet names the type it works toward.
    assert api.get("/api/v1/customers/acme/tasks/abandoned-2026-09/budget").status_code == 400
    named = api.get("/api/v1/customers/acme/tasks/abandoned-2026-09/budget", outcome="ticket_resolved")
    assert named.status_code == 200 and Decimal(named.json()["cost_so_far"]) == Decimal("0.125")
    assert "max_cost_share" in api.post("/api/v1/guardrails", {"outcome": "ticket_resolved",
                                                               "max_cost_share": "0"}).json()["errors"]
    assert stranger.api.get("/api/v1/customers/globex/tasks/globex-secret-2026-09/budget").status_code == 404


def test_efficiency_per_outcome_outliers_and_failed_share(billed: Billed) -> None:
    [september] = efficiency_report(organization=billed.vendor.organization, periods=[period_parse("2026-09")])
    tickets = september.types["ticket_resolved"]
    # acme: 4 tickets × (120k in + 8k out); globex: one ticket with 999k in.
    assert tickets.outcomes == 5
    assert tickets.tokens == Decimal(4 * 128000 + 999000)
    assert tickets.by_model["gpt-4o"] == tickets.cost
    # globex's ticket costs 2.4975 against a median of 0.38: an outlier.
    assert [o.task_id for o in september.outliers] == ["globex-secret-2026-09"]
    # abandoned-2026-09 (50k in = 0.125) is the failed cost.
    assert september.failed_tasks == 1 and september.failed_cost == Decimal("0.125")
    assert september.failed_share == (Decimal("0.125") / september.total_cost).quantize(Decimal("0.0001"))
    api = billed.vendor.api.get("/api/v1/efficiency", periods="2026-08,2026-09").json()
    row = next(r for r in api if r["period"] == "2026-09" and r["outcome_type"] == "ticket_resolved")
    assert Decimal(row["cost_per_outcome"]) == tickets.per_outcome(tickets.cost)
    assert billed.vendor.api.get("/api/v1/efficiency", periods="nope").status_code == 400
