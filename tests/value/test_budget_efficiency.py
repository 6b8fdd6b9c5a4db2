"""Margin guardrails and the budget endpoint; the efficiency report's figures, outliers and failed share."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.periods import period_parse
from rollups.services import rollups_advance
from tests.billing.scenario import post_outcomes, post_usage
from tests.portal.conftest import Billed, login
from value.models import BudgetAlert
from value.selectors.efficiency import efficiency_report
from value.services.guardrails import guardrail_set, guardrails_scan
from webhooks.models import OutboxEvent

pytestmark = [pytest.mark.django_db]


def _running_task(billed: Billed, task: str, tokens: int) -> None:
    """A task at work now: input tokens of gpt-4o at 2.50/M, the last moments."""
    now = timezone.now()
    post_usage(billed.vendor.organization, [
        {"idempotency_key": f"{task}-{i}", "customer": "acme", "meter": "llm_tokens", "quantity": str(tokens // 4),
         "timestamp": (now - timedelta(minutes=10 - i)).isoformat(), "task_id": task,
         "properties": {"model": "gpt-4o", "direction": "input"}} for i in range(4)])


def test_the_budget_endpoint_answers_cost_so_far_against_the_ceiling(billed: Billed, stranger) -> None:
    api = billed.vendor.api
    _running_task(billed, "pr-live", 400_000)  # 1.00 so far; a review is priced 4.00
    url = "/api/v1/customers/acme/tasks/pr-live/budget"
    assert api.get(url).status_code == 400  # no outcome yet, and none named
    open_ended = api.get(url, outcome="code_review_completed").json()
    assert open_ended["ceiling"] is None and open_ended["within"] is True
    assert Decimal(open_ended["cost_so_far"]) == Decimal("1.00")
    assert api.post("/api/v1/guardrails", {"outcome": "code_review_completed", "max_cost_share": "0.30"}).status_code == 201
    within = api.get(url, outcome="code_review_completed").json()
    assert within == {"task_id": "pr-live", "outcome": "code_review_completed", "cost_so_far": within["cost_so_far"],
                      "ceiling": "1.20", "within": True, "currency": "USD"}
    assert not BudgetAlert.objects.exists()
    _running_task(billed, "pr-live-2", 400_000)
    assert api.post("/api/v1/guardrails", {"outcome": "code_review_completed", "max_cost_share": "0.20"}).status_code == 201
    over = api.get(url, outcome="code_review_completed").json()
    assert over["ceiling"] == "0.80" and over["within"] is False
    api.get(url, outcome="code_review_completed")
    assert BudgetAlert.objects.filter(task_id="pr-live").count() == 1  # recorded once
    announced = OutboxEvent.objects.filter(organization_id=billed.vendor.organization.pk, type="task.budget_exceeded")
    assert [(e.data["task_id"], e.data["ceiling"], e.data["currency"]) for e in announced] == [("pr-live", "0.80", "USD")]
    # The rollups job folding the events changes nothing: rollups plus their tail give the same cost.
    rollups_advance(organization_id=billed.vendor.organization.pk)
    _running_task(billed, "pr-live", 400_000)  # the same keys: stored once, nothing new
    assert api.get(url, outcome="code_review_completed").json()["cost_so_far"] == over["cost_so_far"]
    assert "max_cost_share" in api.post("/api/v1/guardrails", {"outcome": "code_review_completed",
                                                               "max_cost_share": "0"}).json()["errors"]
    assert "outcome" in api.get(url, outcome="nope").json()["errors"]
    assert stranger.api.get("/api/v1/customers/acme/tasks/pr-live/budget",
                            outcome="code_review_completed").status_code in (400, 404)
    assert stranger.api.get("/api/v1/customers/globex/tasks/pr-live/budget").status_code == 404


def test_the_scan_records_tasks_over_their_guardrail(billed: Billed) -> None:
    _running_task(billed, "review-now", 400_000)
    post_outcomes(billed.vendor.organization, [{
        "idempotency_key": "o-review-now", "customer": "acme", "outcome": "code_review_completed",
        "task_id": "review-now", "timestamp": timezone.now().isoformat()}])
    guardrail_set(organization=billed.vendor.organization, outcome="code_review_completed",
                  max_cost_share=Decimal("0.1"))
    assert guardrails_scan() == 1
    assert guardrails_scan() == 0
    alert = BudgetAlert.objects.get()
    assert (alert.task_id, alert.ceiling, alert.cost) == ("review-now", Decimal("0.40"), Decimal("1.00"))
    page = login(billed.vendor.admin).get("/value/efficiency/")
    assert b"review-now" in page.content and b"Tasks over their margin guardrail" in page.content


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
    answer = next(p for p in api if p["period"] == "2026-09")
    row = next(r for r in answer["types"] if r["outcome_type"] == "ticket_resolved")
    assert Decimal(row["cost_per_outcome"]) == tickets.per_outcome(tickets.cost)
    assert [o["task_id"] for o in answer["outliers"]] == ["globex-secret-2026-09"]
    assert Decimal(answer["failed_cost"]) == Decimal("0.125") and answer["failed_tasks"] == 1
    assert billed.vendor.api.get("/api/v1/efficiency", periods="nope").status_code == 400
