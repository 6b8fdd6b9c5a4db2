"""The per-task drill-down: outcome claims, the usage behind the cost, and who may open it."""

import pytest
from django.urls import reverse

from tests.portal.conftest import ODD_TASK, login

pytestmark = pytest.mark.django_db


def _task_url(invoice, task_id: str) -> str:
    return reverse("portal:task-detail", args=[invoice.pk, task_id])


def test_task_page_shows_outcomes_usage_with_meter_quantity_and_properties(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    task_id = "ticket-2026-10-1"

    response = login(finance_user).get(_task_url(invoice, task_id))

    assert response.status_code == 200
    task = response.context["task"]
    assert [o.outcome_type.code for o in task.outcomes] == ["ticket_resolved"]
    assert {(e.meter.code, e.quantity, e.properties["direction"]) for e in task.usage} == {
        ("llm_tokens", 120000, "input"),
        ("llm_tokens", 8000, "output"),
    }
    content = response.content.decode()
    assert "LLM tokens" in content and "120,000" in content and "direction=output" in content
    assert f"badge {task.outcomes[0].status}" in content


def test_vendor_sees_the_tasks_cost_and_the_customer_does_not(billed, finance_user, vendor) -> None:
    invoice = billed.invoice("acme", "2026-10")
    url = _task_url(invoice, "ticket-2026-10-1")

    as_vendor = login(vendor.admin).get(url)
    as_customer = login(finance_user).get(url)

    # 120k input tokens at 2.50/M plus 8k output tokens at 10.00/M
    assert "0.3800 USD" in as_vendor.content.decode()
    assert b"Cost to serve" in as_vendor.content
    assert b"Cost to serve" not in as_customer.content
    assert b"0.3800" not in as_customer.content


def test_task_id_with_a_slash_and_formula_character_opens(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    response = login(finance_user).get(_task_url(invoice, ODD_TASK))
    assert response.status_code == 200
    assert response.context["task"].task_id == ODD_TASK


def test_another_customers_task_is_not_found_through_ones_own_invoice(billed, finance_user) -> None:
    invoice = billed.invoice("acme", "2026-10")
    response = login(finance_user).get(_task_url(invoice, "globex-secret-2026-10"))
    assert response.status_code == 404
    assert b"globex-secret" not in response.content


@pytest.mark.parametrize("persona", ["other_customer", "stranger"])
def test_a_task_outside_the_scope_is_not_found(billed, persona, globex_finance, stranger) -> None:
    user = globex_finance if persona == "other_customer" else stranger.admin
    response = login(user).get(_task_url(billed.invoice("acme", "2026-10"), "ticket-2026-10-1"))
    assert response.status_code == 404


def test_unknown_task_is_not_found(billed, finance_user) -> None:
    response = login(finance_user).get(_task_url(billed.invoice("acme", "2026-10"), "no-such-task"))
    assert response.status_code == 404


def test_task_page_query_count_is_pinned(billed, finance_user, django_assert_num_queries) -> None:
    client = login(finance_user)
    # session, user, organization, customer, invoice, lines, outcomes, transitions, disputes, evidence, usage
    with django_assert_num_queries(11):
        response = client.get(_task_url(billed.invoice("acme", "2026-10"), "ticket-2026-10-1"))
    assert response.status_code == 200
