"""A billing run fanned out over several real Celery worker processes writes the same invoices as one
process running it inline, reading the rollups (and the raw events, for comparison)."""

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import Customer
from billing.models import BillingRun, Invoice
from billing.services.reconcile import reconcile_customer
from billing.services.runs import billing_run_create
from config.celery import app as celery_app
from core.periods import Period
from rollups.services import rollups_advance
from tests.processes import start_celery_worker
from tests.rollups.support import OCTOBER, post_outcomes, post_usage, tenant_create, usage_event

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for real workers"),
    pytest.mark.django_db(transaction=True),
]

WORKERS = 3


@pytest.fixture
def workers(tmp_path: Path):
    """Three worker processes (one pool process each) on one queue; chunks of two customers."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    processes = [
        start_celery_worker(queue=queue, log_path=tmp_path / f"worker{n}.log", concurrency=1,
                            BILLING_RUN_CHUNK_SIZE="2")
        for n in range(WORKERS)
    ]
    yield [tmp_path / f"worker{n}.log" for n in range(WORKERS)]
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous


def _invoices(organization_id: int, period: Period) -> dict[str, Any]:
    result = {}
    for invoice in Invoice.objects.filter(organization_id=organization_id, period_start=period.start):
        lines = [(line.kind, line.task_id, line.quantity, line.unit_price, line.amount, line.cost, line.description)
                 for line in invoice.lines.order_by("position")]
        result[Customer.objects.get(pk=invoice.customer_id).external_id] = (invoice.subtotal, invoice.total, lines)
    return result


def _seed(customers: int) -> Any:
    tenant = tenant_create("workers", customers=customers)
    for n, customer in enumerate(tenant.customers):
        stamp = datetime(2026, 10, 1 + n % 27, 10, tzinfo=UTC)
        post_usage(tenant.organization, [
            usage_event(f"{customer.external_id}-{i}", customer.external_id, meter, str(100 * (i + n + 1)),
                        stamp.replace(hour=i), f"t{i % 3}", model=("a", "b", None)[i % 3], user=f"u{i % 2}")
            for i, meter in enumerate(["tokens", "tokens", "calls", "peak", "seats", "users", "tokens"])
        ])
        post_outcomes(tenant.organization, [
            {"idempotency_key": f"{customer.external_id}-o{i}", "customer": customer.external_id,
             "outcome": "ticket_resolved", "task_id": f"t{i}", "timestamp": stamp.isoformat()}
            for i in range(1 + n % 3)
        ])
    rollups_advance(organization_id=tenant.organization.pk)
    return tenant


def test_a_run_over_several_worker_processes_writes_the_invoices_of_one(workers: list[Path]) -> None:
    tenant = _seed(customers=9)
    organization = tenant.organization
    run = billing_run_create(organization=organization, period=OCTOBER)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.status in (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING):
        time.sleep(0.25)
        run.refresh_from_db()
    logs = [path.read_text() for path in workers]
    assert run.status == BillingRun.Status.DONE, "\n".join(log[-2000:] for log in logs)
    assert set(Invoice.objects.filter(organization=organization).values_list("cutoff", flat=True)) == {run.started_at}
    by_workers = _invoices(organization.pk, OCTOBER)
    assert len(by_workers) == 9 and all(lines for _, _, lines in by_workers.values())
    # The five chunks went to more than one process.
    assert sum(1 for log in logs if "billing.run_chunk" in log and "succeeded" in log) >= 2

    for customer in tenant.customers:  # the same cutoff, computed again in this one process
        reconcile_customer(customer_id=customer.pk, period=OCTOBER, cutoff=run.started_at)
    assert _invoices(organization.pk, OCTOBER) == by_workers
