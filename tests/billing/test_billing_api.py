"""The billing API contract: runs, invoices, ROI, lifecycle actions, credit notes, disputes."""

from decimal import Decimal

import pytest

from tests.billing.scenario import outcomes, post_outcomes, post_usage
from tests.factories import MeterFactory, OutcomeTypeFactory, RateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def october(vendor, django_capture_on_commit_callbacks):
    """Usage and outcomes for October, and a billing run (eager Celery) for it."""
    meter = MeterFactory.create(organization=vendor.organization)
    RateFactory.create(meter=meter, dimensions={"model": "gpt-4o", "direction": "input"}, unit_cost=Decimal("2.50"))
    RateFactory.create(meter=meter, dimensions={"model": "gpt-4o", "direction": "output"}, unit_cost=Decimal("10.00"))
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("0.99"), value=Decimal("6.50"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 2))
    usage = []
    for task, (tokens_in, tokens_out) in {"o-task-0": (200_000, 50_000), "o-task-1": (100_000, 10_000),
                                          "failed-task": (400_000, 0)}.items():
        usage.append({"idempotency_key": f"{task}-in", "customer": "acme", "meter": "llm_tokens",
                      "quantity": str(tokens_in), "timestamp": "2026-10-05T08:00:00Z", "task_id": task,
                      "properties": {"model": "gpt-4o", "direction": "input", "request": task}})
        usage.append({"idempotency_key": f"{task}-out", "customer": "acme", "meter": "llm_tokens",
                      "quantity": str(tokens_out), "timestamp": "2026-10-05T08:00:00Z", "task_id": task,
                      "properties": {"model": "gpt-4o", "direction": "output"}})
    assert post_usage(vendor.organization, usage)["accepted"] == 6
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor.api.post("/api/v1/billing-runs", {"period": "2026-10"})
    assert response.status_code == 202
    assert set(response.json()) >= {"id", "status"}
    run = vendor.api.get(f"/api/v1/billing-runs/{response.json()['id']}").json()
    assert (run["status"], run["customers_done"], run["customers_total"]) == ("done", 1, 1)
    return vendor


def invoice_of(vendor) -> dict:
    listed = vendor.api.get("/api/v1/invoices", customer="acme", period="2026-10").json()
    assert len(listed) == 1
    return vendor.api.get(f"/api/v1/invoices/{listed[0]['id']}").json()


def test_invoice_lines_carry_price_and_the_tasks_cost_to_serve(october) -> None:
    invoice = invoice_of(october)
    assert {k: invoice[k] for k in ("number", "customer", "period", "status", "currency", "subtotal", "total")} == {
        "number": None, "customer": "acme", "period": "2026-10", "status": "draft", "currency": "USD",
        "subtotal": "1.98", "total": "1.98"}
    lines = [(line["task_id"], line["outcome"], line["quantity"], line["unit_price"], line["amount"], line["cost"])
             for line in invoice["lines"]]
    # o-task-0: 0.2M in at $2.50/M + 0.05M out at $10/M = 0.5 + 0.5; o-task-1: 0.25 + 0.1
    assert lines == [("o-task-0", "ticket_resolved", "1", "0.99", "0.99", "1"),
                     ("o-task-1", "ticket_resolved", "1", "0.99", "0.99", "0.35")]
    for line in invoice["lines"]:
        assert isinstance(line["amount"], str) and isinstance(line["unit_price"], str)


def test_roi_joins_value_billed_and_cost(october) -> None:
    roi = october.api.get("/api/v1/customers/acme/roi", period="2026-10").json()
    assert roi == {
        "period": "2026-10", "currency": "USD", "cost_currency": "USD", "outcomes": {"ticket_resolved": 2},
        "tasks": 3, "unbilled_tasks": 1, "value_delivered": "13.00",
        "value_basis": {"ticket_resolved": {"count": 2, "unit_value": "6.50", "value": "13.00", "basis": "estimate",
                                            "baseline": None}},
        "billed": "1.98", "billed_on_invoice": "1.98", "billed_later": "0.00", "credited": "0.00",
        "cost_to_serve": "2.35", "cost_of_billed_tasks": "1.35", "unbilled_cost": "1.00", "margin": "-0.37",
        "cost_per_outcome": "1.18", "roi": "6.5657",
    }


def test_rerun_replaces_the_draft_with_the_same_result(october, django_capture_on_commit_callbacks) -> None:
    before = invoice_of(october)
    with django_capture_on_commit_callbacks(execute=True):
        october.api.post("/api/v1/billing-runs", {"period": "2026-10", "customer": "acme"})
    after = invoice_of(october)
    assert after["id"] == before["id"]
    assert after["lines"] == before["lines"]


def test_finalize_pay_and_credit_note_through_the_api(october) -> None:
    invoice_id = invoice_of(october)["id"]
    finalized = october.api.post(f"/api/v1/invoices/{invoice_id}/finalize").json()
    assert (finalized["status"], finalized["number"]) == ("finalized", "INV-000001")
    response = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                                {"reason": "goodwill", "lines": [{"line_position": 1}]})
    assert response.status_code == 201, response.content
    assert (response.json()["number"], response.json()["total"]) == ("CN-000001", "0.99")
    too_much = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                                {"reason": "again", "lines": [{"amount": "5.00", "description": "x"}]})
    assert too_much.status_code == 400
    assert "lines" in too_much.json()["errors"]
    assert october.api.post(f"/api/v1/invoices/{invoice_id}/pay").json()["status"] == "paid"
    assert october.api.post(f"/api/v1/invoices/{invoice_id}/void").status_code == 409
    assert october.api.get(f"/api/v1/invoices/{invoice_id}").json()["total"] == "1.98"


def test_dispute_flow_through_the_api(october, django_capture_on_commit_callbacks) -> None:
    response = october.api.post("/api/v1/outcome-events/o0/dispute", {"reason": "not resolved"})
    assert response.status_code == 201
    dispute_id = response.json()["id"]
    assert october.api.post("/api/v1/outcome-events/o0/dispute", {"reason": "twice"}).status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        october.api.post("/api/v1/billing-runs", {"period": "2026-10"})
    assert invoice_of(october)["total"] == "0.99"
    assert [d["id"] for d in october.api.get("/api/v1/disputes", status="open").json()] == [dispute_id]
    resolved = october.api.post(f"/api/v1/disputes/{dispute_id}/resolve", {"decision": "reject", "note": "logs"})
    assert resolved.json()["status"] == "rejected"
    bad = october.api.post(f"/api/v1/disputes/{dispute_id}/resolve", {"decision": "maybe"})
    assert bad.status_code == 400 and "decision" in bad.json()["errors"]


@pytest.mark.parametrize(("body", "field"), [({"period": "2026-13"}, "period"), ({"period": "10-2026"}, "period"),
                                             ({}, "period"), ({"period": "2026-10", "customer": "nobody"}, "customer"),
                                             ({"period": "2999-01"}, "period")])
def test_bad_billing_run_requests_name_the_field(vendor, body, field) -> None:
    response = vendor.api.post("/api/v1/billing-runs", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_bad_query_parameters_are_4xx(october) -> None:
    assert october.api.get("/api/v1/invoices", period="nope").status_code == 400
    assert october.api.get("/api/v1/invoices", customer="nobody").status_code == 404
    assert october.api.get("/api/v1/customers/acme/roi").status_code == 400
    assert october.api.get("/api/v1/customers/acme/roi", period="2026-09").status_code == 404
    assert october.api.get("/api/v1/invoices/999999").status_code == 404


def test_another_organization_sees_none_of_it(october, stranger) -> None:
    invoice_id = invoice_of(october)["id"]
    run_id = october.api.get("/api/v1/invoices").json()[0]["id"]
    assert stranger.api.get(f"/api/v1/invoices/{invoice_id}").status_code == 404
    assert stranger.api.get("/api/v1/invoices").json() == []
    assert stranger.api.post(f"/api/v1/invoices/{invoice_id}/finalize").status_code == 404
    assert stranger.api.get(f"/api/v1/billing-runs/{run_id}").status_code == 404
    assert stranger.api.get("/api/v1/customers/acme/roi", period="2026-10").status_code == 404
    assert stranger.api.post("/api/v1/outcome-events/o0/dispute", {"reason": "x"}).status_code == 404
    assert stranger.api.get("/api/v1/disputes").json() == []
    assert stranger.api.get("/api/v1/notifications").json() == []
    assert october.api.get(f"/api/v1/invoices/{invoice_id}").json()["status"] == "draft"


def test_a_line_is_credited_once_and_never_beyond_its_amount(october) -> None:
    invoice_id = invoice_of(october)["id"]
    october.api.post(f"/api/v1/invoices/{invoice_id}/finalize")
    over = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                            {"reason": "x", "lines": [{"line_position": 1, "amount": "5.00"}]})
    assert over.status_code == 400 and "lines[0].amount" in over.json()["errors"]
    first = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                             {"reason": "x", "lines": [{"line_position": 1}]})
    assert first.status_code == 201
    again = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                             {"reason": "x", "lines": [{"line_position": 1}]})
    assert again.status_code == 409 and "lines[0]" in again.json()["errors"]


@pytest.mark.django_db(transaction=True)  # as in production: the request runs outside a transaction
def test_without_a_broker_a_run_is_done_when_the_post_answers(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.00"))
    post_outcomes(vendor.organization, outcomes(vendor.customer, 1))
    response = vendor.api.post("/api/v1/billing-runs", {"period": "2026-10"})
    assert response.status_code == 202
    assert response.json()["status"] == "done"
    assert vendor.api.get(f"/api/v1/billing-runs/{response.json()['id']}").json()["status"] == "done"
    assert vendor.api.get("/api/v1/invoices", period="2026-10").json()[0]["total"] == "1.00"


def test_more_bad_input_is_a_4xx_naming_the_field(vendor) -> None:
    OutcomeTypeFactory.create(organization=vendor.organization)
    twice = vendor.api.post("/api/v1/customers/acme/price-books", {
        "effective_from": "2026-10", "currency": "USD",
        "entries": [{"outcome": "ticket_resolved", "unit_price": "1"}, {"outcome": "ticket_resolved", "unit_price": "2"}],
    })
    assert twice.status_code == 400 and "entries[1].outcome" in twice.json()["errors"]
    wallet = vendor.api.get("/api/v1/customers/acme/wallet", currency="ZZZ")
    assert wallet.status_code == 400 and "currency" in wallet.json()["errors"]
    disputes = vendor.api.get("/api/v1/disputes", status="maybe")
    assert disputes.status_code == 400 and "status" in disputes.json()["errors"]


def test_credit_notes_are_listed_to_their_organization_only(october, stranger) -> None:
    invoice_id = invoice_of(october)["id"]
    october.api.post(f"/api/v1/invoices/{invoice_id}/finalize")
    note = october.api.post(f"/api/v1/invoices/{invoice_id}/credit-notes",
                            {"reason": "x", "lines": [{"line_position": 1}]}).json()
    listed = october.api.get("/api/v1/credit-notes").json()
    assert [(n["number"], n["invoice"], [line["invoice_line"] for line in n["lines"]]) for n in listed] == [
        (note["number"], invoice_id, [1])]
    assert october.api.get("/api/v1/credit-notes", customer="acme").json() == listed
    assert stranger.api.get("/api/v1/credit-notes").json() == []
