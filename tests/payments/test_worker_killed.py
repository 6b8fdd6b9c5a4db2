"""A real Celery worker SIGKILLed in the middle of a push, after Stripe finalized the invoice but before the
worker heard back, then started again: the task is delivered again and ends the push with the one Stripe
invoice (one set of lines), because every write carries an idempotency key made of our ids and the Stripe
invoice id was recorded as soon as Stripe answered."""

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config.celery import app as celery_app
from payments.models import InvoicePush, PushStatus
from payments.standin import StripeStandIn
from tests.payments.scenario import billing_details, connect, finalized_invoice
from tests.processes import celery_reroute, start_celery_worker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for a real worker"),
]


@pytest.fixture
def payments_queue() -> Iterator[str]:
    """A queue of this test's own for the payments tasks, sent to the broker instead of run in-process."""
    name = f"test-payments-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_routes)
    celery_app.conf.task_always_eager, celery_app.conf.task_routes = False, {"payments.*": {"queue": name}}
    celery_reroute()  # a task sent earlier in the run built the router from the settings' routes
    yield name
    celery_app.conf.task_always_eager, celery_app.conf.task_routes = previous
    celery_reroute()


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_push_whose_worker_was_killed_mid_way_ends_with_one_stripe_invoice(
    vendor, standin: StripeStandIn, stripe_base: str, payments_queue: str, tmp_path: Path
) -> None:
    billing_details(vendor.customer)
    connected = connect(standin, vendor.organization)
    # Stripe finalizes the invoice, then its answer waits: the worker dies before it hears back.
    hold = standin.hold("POST", r"/v1/invoices/[^/]+/finalize")
    log = tmp_path / "worker.log"
    env = {"STRIPE_API_BASE": standin.url, "CELERY_VISIBILITY_TIMEOUT": "3"}
    worker = start_celery_worker(queue=payments_queue, log_path=log, concurrency=1, **env)
    try:
        invoice = finalized_invoice(vendor.customer)  # finalizing sends payments.push_invoice after commit
        assert hold.arrived.wait(timeout=60), log.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, the push in hand
        worker.wait()
        hold.release.set()
        [remote] = standin.objects(connected.api_key, "invoice")
        assert remote["status"] == "open"  # Stripe did its part
        push = InvoicePush.objects.get(invoice=invoice)
        assert push.status == PushStatus.PENDING and push.stripe_invoice_id == remote["id"]

        time.sleep(3.5)  # past the visibility timeout: the restarted worker finds the task unacknowledged
        worker = start_celery_worker(queue=payments_queue, log_path=log, concurrency=1, **env)

        def pushed() -> bool:
            push.refresh_from_db()
            return push.status == PushStatus.PUSHED

        assert _wait(pushed, timeout=60), log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

    assert push.attempts == 2 and push.stripe_invoice_id == remote["id"]
    assert len(standin.objects(connected.api_key, "invoice")) == 1
    assert len(standin.objects(connected.api_key, "customer")) == 1
    assert [line["amount"] for line in standin.accounts[connected.api_key].objects[remote["id"]]["_lines"]] == [500, 95]
    assert len(standin.requests("POST", r"/v1/invoices")) == 1  # created once, never again
    invoice.refresh_from_db()
    assert invoice.payment_url == remote["hosted_invoice_url"]
