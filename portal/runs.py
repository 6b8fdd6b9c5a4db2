"""What a billing run did, customer by customer: each customer's invoice for the run's period as the run
left it, and the change from the last run of the same period that covered that customer.

A run keeps no copy of its results; the audit log does: every change of an invoice is a snapshot
(audit.InvoiceEvent, written by a database trigger in the changing transaction). An invoice "as a run
left it" is its latest snapshot taken before the run finished (before now, for a run still going).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from accounts.models import Customer
from audit import models as audit_models
from billing.models import BillingRun

# A run page lists this many customers' results; a larger run is read through the invoice list.
RESULT_LIMIT = 500


def _invoice_events() -> Any:
    """The invoice snapshot model pghistory builds at import time (the type checker cannot see it)."""
    return audit_models.InvoiceEvent  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Snapshot:
    invoice_id: int
    total: Decimal
    currency: str
    status: str


@dataclass(frozen=True)
class RunResult:
    customer: Customer
    after: Snapshot | None  # the invoice as this run left it
    before: Snapshot | None  # as the last run before this one left it (None: no earlier run)
    previous_run_id: int | None

    @property
    def change(self) -> Decimal | None:
        if self.after is None or self.before is None or self.after.currency != self.before.currency:
            return None
        return self.after.total - self.before.total

    @property
    def is_new(self) -> bool:
        return self.after is not None and self.before is None


def _snapshots(*, run: BillingRun, at: datetime, customer_ids: list[int]) -> dict[int, Snapshot]:
    """Each customer's invoice for the run's period as of `at`, by customer id."""
    rows = (
        _invoice_events()
        .objects.filter(
            organization_id=run.organization_id,
            period_start=run.period_start,
            customer_id__in=customer_ids,
            pgh_created_at__lte=at,
        )
        .exclude(pgh_label="deleted")
        .order_by("customer_id", "-pgh_created_at", "-pgh_id")
        .distinct("customer_id")
        .values_list("customer_id", "pgh_obj_id", "total", "currency", "status")
    )
    return {row[0]: Snapshot(row[1], row[2], row[3], row[4]) for row in rows}


def billing_run_results(*, run: BillingRun) -> list[RunResult]:
    """The run's customers (its one customer, or every customer of the organization), each with its
    invoice after the run and after the previous finished run of the same period that covered it."""
    customers = Customer.objects.filter(organization_id=run.organization_id)
    if run.customer_id:
        customers = customers.filter(pk=run.customer_id)
    listed = list(customers.order_by("name", "external_id")[:RESULT_LIMIT])
    ids = [customer.pk for customer in listed]
    if run.started_at is None:  # queued: nothing done yet
        return [RunResult(customer, None, None, None) for customer in listed]
    after = _snapshots(run=run, at=run.finished_at or timezone.now(), customer_ids=ids)
    earlier = list(
        BillingRun.objects.filter(
            organization_id=run.organization_id,
            period_start=run.period_start,
            finished_at__isnull=False,
            finished_at__lte=run.started_at,
        )
        .filter(Q(customer__isnull=True) | Q(customer_id__in=ids))
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-pk")[:50]
    )
    # Per customer, the latest earlier run that covered it (a run of all customers, or of that one).
    previous: dict[int, BillingRun] = {}
    for customer_id in ids:
        for candidate in earlier:
            if candidate.customer_id in (None, customer_id):
                previous[customer_id] = candidate
                break
    before: dict[int, Snapshot] = {}
    for earlier_run in {run_.pk: run_ for run_ in previous.values()}.values():
        assert earlier_run.finished_at is not None
        covered = [cid for cid, run_ in previous.items() if run_.pk == earlier_run.pk]
        before.update(_snapshots(run=run, at=earlier_run.finished_at, customer_ids=covered))
    return [
        RunResult(
            customer,
            after.get(customer.pk),
            before.get(customer.pk),
            previous[customer.pk].pk if customer.pk in previous else None,
        )
        for customer in listed
    ]
