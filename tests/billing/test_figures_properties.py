"""For any mix of reversals, disputes accepted or rejected, credit notes and late outcomes over a few
periods, the invoices, the ROI answers, the customers list and the CSV exports agree to the cent."""

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import CreditNote, Invoice, InvoiceLine, RoiReport
from billing.selectors.roi import period_figures_list
from billing.services.credit_notes import CreditSpec, credit_note_create
from billing.services.finalize import invoice_finalize
from billing.services.reconcile import customer_drafts_refresh, reconcile_customer
from core.periods import Period, period_parse
from outcomes.enums import OutcomeStatus
from outcomes.selectors import task_outcome_list
from outcomes.services import dispute_resolve, outcome_event_dispute, outcome_event_reverse
from tests.billing import reference
from tests.billing.scenario import at, post_outcomes, post_usage
from tests.billing.test_figures import priced, usage
from tests.conftest import Vendor

pytestmark = pytest.mark.django_db

BEFORE = ("keep", "reverse", "dispute_accepted", "dispute_rejected")
AFTER = ("keep", "reverse", "dispute_accepted", "dispute_rejected", "credit_note")
VALUE = Decimal("6.50")


@dataclass(frozen=True)
class PeriodPlan:
    before: list[str]  # what happens to each outcome before its period is invoiced
    after: list[str]  # and after its invoice is finalized
    unbilled_tasks: int
    late: int  # outcomes of the period received after its invoice was finalized
    late_on_billed_task: bool  # the first late one for a task already billed, whose cost has grown since


plans = st.builds(
    PeriodPlan,
    before=st.lists(st.sampled_from(BEFORE), min_size=0, max_size=4),
    after=st.lists(st.sampled_from(AFTER), min_size=4, max_size=4),
    unbilled_tasks=st.integers(0, 2),
    late=st.integers(0, 2),
    late_on_billed_task=st.booleans(),
)


def _settle(vendor: Vendor, key: str, action: str) -> None:
    organization = vendor.organization
    if action == "reverse":
        outcome_event_reverse(organization=organization, idempotency_key=key, reason="reopened")
    elif action.startswith("dispute"):
        dispute = outcome_event_dispute(organization=organization, idempotency_key=key, reason="challenged")
        dispute_resolve(organization=organization, dispute_id=dispute.pk, accept=action == "dispute_accepted",
                        note="decided")
    elif action == "credit_note":
        line = InvoiceLine.objects.select_related("invoice").get(
            outcome_event__idempotency_key=key, kind=InvoiceLine.Kind.OUTCOME, invoice__status="finalized"
        )
        credited = sum((note.total for note in line.invoice.credit_notes.all()), Decimal(0))
        if credited + line.amount <= line.invoice.total:  # beyond the total, the service refuses it (tested there)
            credit_note_create(invoice=line.invoice, reason="goodwill", items=[CreditSpec(line.amount, key, line)])


def _play(vendor: Vendor, periods: list[Period], plan: list[PeriodPlan]) -> None:
    customer = vendor.customer
    for index, (period, step) in enumerate(zip(periods, plan, strict=True)):
        month, keys = period.start.month, [f"p{index}-o{j}" for j in range(len(step.before))]
        post_outcomes(vendor.organization, [
            {"idempotency_key": key, "customer": "acme", "outcome": "ticket_resolved", "task_id": f"{key}-task",
             "timestamp": at(3, hour=j, month=month)} for j, key in enumerate(keys)
        ])
        post_usage(vendor.organization, [usage(customer, f"{key}-task", 100_000 * (j + 1), month=month)
                                         for j, key in enumerate(keys)]
                   + [usage(customer, f"p{index}-idle-{j}", 70_000, month=month) for j in range(step.unbilled_tasks)])
        for key, action in zip(keys, step.before, strict=False):
            _settle(vendor, key, action)
        invoice_finalize(invoice=reconcile_customer(customer_id=customer.pk, period=period))
        for key, action in zip(keys, step.after, strict=False):
            if task_outcome_list(organization_id=vendor.organization.pk, customer_id=customer.pk,
                                 task_id=f"{key}-task")[0].status == OutcomeStatus.BILLED:
                _settle(vendor, key, action)
        late_tasks = [f"p{index}-late{j}-task" for j in range(step.late)]
        if step.late_on_billed_task and late_tasks and keys:
            late_tasks[0] = f"{keys[0]}-task"
            post_usage(vendor.organization, [{**usage(customer, late_tasks[0], 50_000, month=month),
                                              "idempotency_key": f"{late_tasks[0]}-grown"}])
        post_outcomes(vendor.organization, [
            {"idempotency_key": f"p{index}-late{j}", "customer": "acme", "outcome": "ticket_resolved",
             "task_id": task, "timestamp": at(20, month=month)} for j, task in enumerate(late_tasks)
        ])
        customer_drafts_refresh(customer_id=customer.pk)  # the hook's refresh: pending credits, late lines


def _csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content  # invoice CSVs stream
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _check(vendor: Vendor, client: Client, periods: list[Period]) -> None:
    invoices = list(Invoice.objects.filter(customer=vendor.customer).exclude(status=Invoice.Status.VOID))
    notes = list(CreditNote.objects.filter(customer=vendor.customer).prefetch_related("lines__invoice_line"))
    roi_csv = {row["period"]: row for row in _csv(client.get(reverse("portal:customer-roi-csv", args=["acme"])))}
    # What the invoice CSVs say was charged for each period, wherever it was charged.
    charged: dict[str, Decimal] = {}
    for invoice in invoices:
        rows = _csv(client.get(reverse("portal:invoice-csv", args=[invoice.pk])))
        assert sum((Decimal(row["amount"]) for row in rows), Decimal(0)) == invoice.total
        for row in rows:
            if row["kind"] != InvoiceLine.Kind.PREPAID:
                charged[row["service_period"]] = charged.get(row["service_period"], Decimal(0)) + Decimal(row["amount"])
    for note in notes:
        for line in note.lines.all():
            attributed = line.invoice_line.service_period_start if line.invoice_line else note.invoice.period_start
            label = f"{attributed:%Y-%m}"
            charged[label] = charged.get(label, Decimal(0)) - line.amount

    # The stored totals are the lines' totals, and the figures read from them are the lines' figures.
    ids = [i.pk for i in Invoice.objects.filter(customer=vendor.customer)]
    assert reference.line_groups_stored(ids) == reference.line_groups_from_lines(ids)
    assert reference.task_totals_stored(ids) == reference.task_totals_from_lines(ids)
    for item in period_figures_list(reports=list(RoiReport.objects.filter(customer=vendor.customer))):
        outcomes, tasks, cost = reference.billed_tasks_from_lines(customer_id=vendor.customer.pk,
                                                                   start=item.period.start)
        assert (item.outcomes, item.billed_tasks, item.cost_of_billed_tasks) == (outcomes, tasks, cost), item.period

    billed_total = Decimal(0)
    for period in periods:
        api = vendor.api.get("/api/v1/customers/acme/roi", period=period.label).json()
        listed = client.get(reverse("portal:customer-list"), {"period": period.label})
        row = next(c for c in listed.context["page"] if c.external_id == "acme").figures
        for key in ("billed", "billed_on_invoice", "billed_later", "credited", "value_delivered", "cost_to_serve",
                    "cost_of_billed_tasks", "unbilled_cost", "margin"):
            assert api[key] == str(row[key]) == roi_csv[period.label][key], (period.label, key)
        billed = Decimal(api["billed"])
        assert billed == charged.get(period.label, Decimal(0)), period.label
        assert billed == Decimal(api["billed_on_invoice"]) + Decimal(api["billed_later"]) + Decimal(api["credited"])
        assert Decimal(api["cost_to_serve"]) == Decimal(api["cost_of_billed_tasks"]) + Decimal(api["unbilled_cost"])
        assert Decimal(api["margin"]) == billed - Decimal(api["cost_to_serve"])
        # An outcome reversed or credited leaves its period: what is left is what still stands billed.
        standing = InvoiceLine.objects.filter(
            invoice__in=invoices, kind=InvoiceLine.Kind.OUTCOME, service_period_start=period.start
        ).exclude(outcome_event__status__in=[OutcomeStatus.REVERSED, OutcomeStatus.CREDITED]).count()
        assert sum(api["outcomes"].values()) == standing
        assert Decimal(api["value_delivered"]) == standing * VALUE
        billed_total += billed
    # Every period's billed figure adds up to what the invoices charged, less the credit notes.
    assert billed_total == sum((i.subtotal for i in invoices), Decimal(0)) - sum((n.total for n in notes), Decimal(0))


@pytest.fixture
def priced_vendor(vendor: Vendor) -> Vendor:
    priced(vendor)
    return vendor


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(plans, min_size=2, max_size=2))
def test_invoices_roi_customers_list_and_csvs_agree_to_the_cent(priced_vendor: Vendor, plan: list[PeriodPlan]) -> None:
    vendor = priced_vendor
    periods = [period_parse("2026-09"), period_parse("2026-10")]
    client = Client()
    client.force_login(vendor.admin)
    with transaction.atomic():  # each example starts from the same empty customer
        _play(vendor, periods, plan)
        _check(vendor, client, [*periods, period_parse("2026-11")])
        transaction.set_rollback(True)
