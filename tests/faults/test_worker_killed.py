"""The Celery worker SIGKILLed in the middle of a billing run, then started again: the run finishes in
seconds (Redis gives the unacknowledged chunk again after the visibility timeout, not after an hour),
each chunk counts once, and the invoices are those of a run nobody interrupted."""

import os
import signal
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from billing.models import BillingRun, Invoice
from billing.services.runs import billing_run_create, billing_runs_reap
from config.celery import app as celery_app
from core.periods import period_parse
from tests.billing.scenario import outcomes, post_outcomes
from tests.factories import CustomerFactory, OutcomeTypeFactory
from tests.processes import start_celery_worker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for a real worker"),
]

CUSTOMERS = 24
# One customer a chunk and one task at a time, so the kill lands between many small chunks; Redis gives
# an unacknowledged task again after 3 s instead of an hour.
WORKER_ENV = {"BILLING_RUN_CHUNK_SIZE": "1", "CELERY_VISIBILITY_TIMEOUT": "3"}


@pytest.fixture
def queue():
    name = f"test-faults-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, name
    yield name
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous


def _invoices(organization) -> dict[str, tuple[Decimal, list[tuple[str | None, Decimal]]]]:
    return {
        invoice.customer.external_id: (invoice.total, [(line.task_id, line.amount) for line in invoice.lines.order_by("pk")])
        for invoice in Invoice.objects.filter(organization=organization).select_related("customer")
    }


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_run_whose_worker_was_killed_finishes_after_a_restart_with_the_same_invoices(
    vendor, queue, tmp_path: Path, settings
) -> None:
    settings.BILLING_RUN_STALL_SECONDS = 3  # the reaper, run here: production waits 10 minutes
    OutcomeTypeFactory.create(organization=vendor.organization, price=Decimal("1.25"))
    for n in range(CUSTOMERS):
        customer = vendor.customer if n == 0 else CustomerFactory.create(organization=vendor.organization,
                                                                         external_id=f"c{n:02}")
        post_outcomes(vendor.organization, outcomes(customer, 3 + n % 4))
    log = tmp_path / "worker.log"
    worker = start_celery_worker(queue=queue, log_path=log, concurrency=1, **WORKER_ENV)
    try:
        run = billing_run_create(organization=vendor.organization, period=period_parse("2026-10"))

        def progress() -> tuple[str, int]:
            run.refresh_from_db()
            return run.status, run.customers_done

        assert _wait(lambda: progress()[1] >= 3, timeout=40), log.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, a chunk in hand
        worker.wait()
        status, done_at_kill = progress()
        assert status == BillingRun.Status.RUNNING and done_at_kill < CUSTOMERS, "the run ended before the kill"

        worker = start_celery_worker(queue=queue, log_path=log, concurrency=1, **WORKER_ENV)
        assert _wait(lambda: log.read_text(errors="replace").count(" ready.") == 2, timeout=40), log.read_text()

        def finished() -> bool:
            # The chunk in hand at the kill comes back either way: Redis restores it once its visibility
            # timeout passed (kombu looks at start, then only every ~100 s), or the reaper, which beat
            # runs every minute, sends it again once the run has not moved for BILLING_RUN_STALL_SECONDS.
            billing_runs_reap()
            return _wait(lambda: progress()[0] != BillingRun.Status.RUNNING, timeout=1)

        assert _wait(finished, timeout=40), log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    run.refresh_from_db()
    assert (run.status, run.customers_done, run.customers_total) == (BillingRun.Status.DONE, CUSTOMERS, CUSTOMERS)
    assert run.chunks.filter(done_at__isnull=True).count() == 0
    interrupted = _invoices(vendor.organization)
    assert len(interrupted) == CUSTOMERS

    celery_app.conf.task_always_eager = True
    billing_run_create(organization=vendor.organization, period=period_parse("2026-10"), inline=True)
    assert _invoices(vendor.organization) == interrupted  # what an uninterrupted run writes
