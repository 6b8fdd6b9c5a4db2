"""One figure, one definition: cost to serve, billed, margin and outcome counts agree to the cent on the
invoice page, the customers list, the ROI page, the ROI API and the ROI CSV, after credits too."""

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Customer, User
from billing.models import Invoice, InvoiceLine
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize
from billing.services.reconcile import customer_drafts_refresh
from core.periods import Period
from outcomes.services import dispute_resolve, outcome_event_dispute, outcome_event_reverse
from tests.billing.scenario import NOVEMBER, OCTOBER, outcomes, post_outcomes, post_usage, reconcile
from tests.conftest import Vendor
from tests.factories import MeterFactory, OutcomeTypeFactory, RateFactory, UserFactory

pytestmark = pytest.mark.django_db

FIGURES = ("billed", "billed_on_invoice", "billed_later", "credited", "value_delivered", "cost_to_serve",
           "cost_of_billed_tasks", "unbilled_cost", "margin")


def usage(customer: Customer, task: str, tokens: int, *, month: int = 10) -> dict[str, Any]:
    return {"idempotency_key": f"{task}-{month}-in", "customer": customer.external_id, "meter": "llm_tokens",
            "quantity": str(tokens), "timestamp": f"2026-{month:02d}-05T08:00:00Z", "task_id": task,
            "properties": {"model": "m"}}


def priced(vendor: Vendor) -> None:
    """Outcomes at 0.99 (worth 6.50), tokens at 2.50 per million."""
    meter = MeterFactory.create(organization=vendor.organization)
    RateFactory.create(meter=meter, dimensions={}, unit_cost=Decimal("2.50"))
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("0.99"), value=Decimal("6.50"))


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csv_rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content if response.streaming else
                                                    [response.content]).decode("utf-8-sig"))))


def figures_everywhere(vendor: Vendor, period: Period) -> dict[str, dict[str, str]]:
    """The vendor's figures for acme's `period` as each surface shows them, as strings."""
    client = login(vendor.admin)
    surfaces: dict[str, dict[str, Any]] = {}
    surfaces["api"] = vendor.api.get("/api/v1/customers/acme/roi", period=period.label).json()
    page = client.get(reverse("portal:customer-detail", args=["acme"]), {"period": period.label})
    surfaces["roi page"] = page.context["dashboard"].figures
    trend = {row["period"]: row for row in page.context["dashboard"].trend}
    surfaces["roi trend"] = trend[period.label]
    listed = client.get(reverse("portal:customer-list"), {"period": period.label})
    surfaces["customers list"] = next(c for c in listed.context["page"] if c.external_id == "acme").figures
    exported = csv_rows(client.get(reverse("portal:customer-roi-csv", args=["acme"])))
    surfaces["roi csv"] = next(row for row in exported if row["period"] == period.label)
    invoice = Invoice.objects.get(customer=vendor.customer, period_start=period.start)
    surfaces["invoice page"] = client.get(reverse("portal:invoice-detail", args=[invoice.pk])).context["figures"]
    return {name: {key: str(values[key]) for key in FIGURES} for name, values in surfaces.items()}


def assert_agree(vendor: Vendor, period: Period) -> dict[str, str]:
    everywhere = figures_everywhere(vendor, period)
    api = everywhere["api"]
    for name, shown in everywhere.items():
        assert shown == api, name
    return api


@pytest.fixture
def october(vendor: Vendor) -> Vendor:
    """acme, October: three tasks with an outcome each, one task that cost money and produced none."""
    priced(vendor)
    post_outcomes(vendor.organization, outcomes(vendor.customer, 3))
    post_usage(vendor.organization, [usage(vendor.customer, "o-task-0", 400_000),
                                     usage(vendor.customer, "o-task-1", 200_000),
                                     usage(vendor.customer, "o-task-2", 200_000),
                                     usage(vendor.customer, "failed-task", 1_000_000)])
    reconcile(vendor.customer)
    return vendor


def test_cost_to_serve_is_all_usage_in_two_labelled_parts_on_every_surface(october) -> None:
    figures = assert_agree(october, OCTOBER)

    # 0.8M tokens of billed tasks + 1M of the failed task, at 2.50 per million
    assert (figures["cost_of_billed_tasks"], figures["unbilled_cost"], figures["cost_to_serve"]) == (
        "2.00", "2.50", "4.50")
    assert (figures["billed"], figures["margin"]) == ("2.97", "-1.53")
    page = login(october.admin).get(
        reverse("portal:invoice-detail", args=[Invoice.objects.get(customer=october.customer).pk])
    ).content.decode()
    assert "cost of billed tasks" in page and "unbilled cost" in page


def test_a_task_with_two_outcomes_counts_its_cost_once(october) -> None:
    post_outcomes(october.organization, [{**outcomes(october.customer, 1)[0], "idempotency_key": "o0-again"}])
    reconcile(october.customer)

    figures = assert_agree(october, OCTOBER)
    assert (figures["cost_of_billed_tasks"], figures["cost_to_serve"]) == ("2.00", "4.50")
    assert figures["billed"] == "3.96"


def test_a_credit_after_billing_is_attributed_back_to_its_period_and_shown_on_the_draft_at_once(
    october,
) -> None:
    invoice_finalize(invoice=Invoice.objects.get(customer=october.customer, period_start=OCTOBER.start))

    outcome_event_reverse(organization=october.organization, idempotency_key="o1", reason="ticket reopened")
    customer_drafts_refresh(customer_id=october.customer.pk)  # what the hook runs on commit

    draft = Invoice.objects.get(customer=october.customer, period_start=NOVEMBER.start)
    credit = draft.lines.get(kind=InvoiceLine.Kind.CREDIT)
    assert (credit.amount, credit.service_period_start) == (Decimal("-0.99"), OCTOBER.start)
    figures = assert_agree(october, OCTOBER)
    assert (figures["billed_on_invoice"], figures["credited"], figures["billed"]) == ("2.97", "-0.99", "1.98")
    # the reversed outcome leaves October's count and value; its task's cost becomes unbilled
    assert figures["value_delivered"] == "13.00"
    assert (figures["cost_of_billed_tasks"], figures["unbilled_cost"]) == ("1.50", "3.00")
    api = october.api.get("/api/v1/customers/acme/roi", period="2026-10").json()
    assert api["outcomes"] == {"ticket_resolved": 2}
    # November's own figures are not charged for October's credit
    assert october.api.get("/api/v1/customers/acme/roi", period="2026-11").json()["billed"] == "0.00"


def test_a_credit_note_is_attributed_to_the_period_of_the_line_it_credits(october) -> None:
    invoice = invoice_finalize(invoice=Invoice.objects.get(customer=october.customer, period_start=OCTOBER.start))
    line = invoice.lines.get(outcome_event__idempotency_key="o2")
    credit_note_create(invoice=invoice, reason="goodwill", items=[CreditSpec(Decimal("0.99"), "o2", line)])

    figures = assert_agree(october, OCTOBER)
    assert (figures["credited"], figures["billed"], figures["value_delivered"]) == ("-0.99", "1.98", "13.00")


def test_accepting_a_dispute_in_the_portal_refreshes_the_draft_at_once(
    october, django_capture_on_commit_callbacks
) -> None:
    invoice_finalize(invoice=Invoice.objects.get(customer=october.customer, period_start=OCTOBER.start))
    dispute = outcome_event_dispute(organization=october.organization, idempotency_key="o0", reason="not solved")

    with django_capture_on_commit_callbacks(execute=True):
        response = login(october.admin).post(
            reverse("portal:dispute-resolve", args=[dispute.pk]), {"decision": "accept", "note": "agreed"}
        )

    assert response.status_code == 302
    draft = Invoice.objects.get(customer=october.customer, period_start=NOVEMBER.start)
    assert [line.amount for line in draft.lines.filter(kind=InvoiceLine.Kind.CREDIT)] == [Decimal("-0.99")]
    assert draft.total == Decimal("-0.99")
    assert assert_agree(october, OCTOBER)["billed"] == "1.98"


def test_a_dispute_accepted_before_billing_leaves_the_draft_and_the_count(october) -> None:
    dispute = outcome_event_dispute(organization=october.organization, idempotency_key="o0", reason="dup")
    dispute_resolve(organization=october.organization, dispute_id=dispute.pk, accept=True, note="agreed")
    customer_drafts_refresh(customer_id=october.customer.pk)

    figures = assert_agree(october, OCTOBER)
    assert (figures["billed"], figures["credited"], figures["value_delivered"]) == ("1.98", "0.00", "13.00")
    assert Invoice.objects.get(customer=october.customer, period_start=OCTOBER.start).total == Decimal("1.98")


def test_the_customer_sees_the_same_billed_figures_without_the_vendors_cost(october) -> None:
    finance = UserFactory.create(organization=october.organization, role=User.Role.CUSTOMER_FINANCE,
                                 customer=october.customer)
    vendor_figures = assert_agree(october, OCTOBER)

    page = login(finance).get(reverse("portal:roi"), {"period": "2026-10"})
    figures = page.context["dashboard"].figures
    assert {key: str(figures[key]) for key in ("billed", "value_delivered", "credited")} == {
        key: vendor_figures[key] for key in ("billed", "value_delivered", "credited")}
    assert not {"cost_to_serve", "cost_of_billed_tasks", "unbilled_cost", "margin"} & set(figures)
    exported = csv_rows(login(finance).get(reverse("portal:roi-csv")))
    assert exported[0]["billed"] == vendor_figures["billed"]
    assert not {"cost_to_serve", "cost_of_billed_tasks", "unbilled_cost", "margin"} & set(exported[0])


def test_a_reversal_through_the_api_shows_its_pending_credit_on_the_draft_without_a_run(
    october, django_capture_on_commit_callbacks
) -> None:
    invoice_finalize(invoice=Invoice.objects.get(customer=october.customer, period_start=OCTOBER.start))
    assert not Invoice.objects.filter(customer=october.customer, period_start=NOVEMBER.start).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = october.api.post("/api/v1/outcome-events/o1/reverse", {"reason": "ticket reopened"})

    assert response.status_code == 200, response.content
    draft = Invoice.objects.get(customer=october.customer, status=Invoice.Status.DRAFT)
    credit = draft.lines.get(kind=InvoiceLine.Kind.CREDIT)
    assert (credit.amount, credit.service_period_start) == (Decimal("-0.99"), OCTOBER.start)
