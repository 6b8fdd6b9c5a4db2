"""The outbox survives a Celery worker SIGKILLed mid-delivery: every event reaches a healthy receiver, and
the only one sent twice is the one in flight at the kill, with the same id and body both times (at least
once; the receiver dedupes on `webhook-id`). Events emitted while no worker runs wait in the outbox."""

import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction

from config.celery import app as celery_app
from tests.conftest import Vendor
from tests.processes import celery_reroute, start_celery_worker
from tests.webhooks.receiver import Receiver
from webhooks.models import OutboxEvent, WebhookDelivery
from webhooks.services import event_emit
from webhooks.services.endpoints import endpoint_create

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for a real worker"),
]

BEFORE_KILL, WHILE_DOWN = 20, 10
HUNG_REQUEST = 8


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of this test's own for the worker and for every webhooks.* task sent from here."""
    name = f"test-webhooks-{uuid.uuid4().hex[:8]}"
    conf = celery_app.conf
    previous = (conf.task_always_eager, conf.task_default_queue, conf.task_routes)
    conf.task_always_eager, conf.task_default_queue = False, name
    conf.task_routes = {"webhooks.*": {"queue": name}}
    celery_reroute()
    yield name
    conf.task_always_eager, conf.task_default_queue, conf.task_routes = previous
    celery_reroute()


def _wait(predicate: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _emit(vendor: Vendor, count: int, start: int) -> None:
    for n in range(start, start + count):
        with transaction.atomic():
            event_emit(organization_id=vendor.organization.pk, type="invoice.paid", data={"invoice": {"id": n}})


def test_no_event_is_lost_and_only_the_one_in_flight_is_sent_twice(
    vendor: Vendor, queue: str, tmp_path: Path, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    # The receiver holds one request open long enough to kill the worker while it waits for the answer.
    receiver = Receiver(hang_on=HUNG_REQUEST, hang_seconds=5.0).start()
    worker_env = {"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "1", "WEBHOOKS_QUEUE": queue, "CELERY_VISIBILITY_TIMEOUT": "3",
                  "WEBHOOKS_TIMEOUT_SECONDS": "3", "WEBHOOKS_RETRY_DELAYS": "1,1,1,1"}
    log = tmp_path / "worker.log"
    endpoint_create(organization=vendor.organization, url=receiver.url, events=["invoice.paid"])
    worker = start_celery_worker(queue=queue, log_path=log, concurrency=1, **worker_env)
    try:
        assert _wait(lambda: " ready." in log.read_text(errors="replace"), timeout=40), log.read_text()
        _emit(vendor, BEFORE_KILL, start=0)  # each commit fires the relay on the worker
        assert receiver.hanging.wait(timeout=40), log.read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, mid-request
        worker.wait()
        in_flight = receiver.ids()[HUNG_REQUEST - 1]
        delivered_before_restart = len(receiver.requests)
        assert delivered_before_restart < BEFORE_KILL, "everything was delivered before the kill"

        _emit(vendor, WHILE_DOWN, start=BEFORE_KILL)  # no worker: these wait in the outbox
        time.sleep(0.5)
        assert len(receiver.requests) == delivered_before_restart

        worker = start_celery_worker(queue=queue, log_path=log, concurrency=1, **worker_env)
        assert _wait(lambda: log.read_text(errors="replace").count(" ready.") == 2, timeout=40), log.read_text()

        def all_delivered() -> bool:
            # What beat does every WEBHOOKS_SWEEP_SECONDS: relay what is left, send what is due (the attempt
            # that died with the worker is due again once its lease has run out).
            celery_app.tasks["webhooks.relay"].delay()
            return _wait(lambda: not WebhookDelivery.objects.exclude(status="succeeded").exists()
                         and WebhookDelivery.objects.count() == BEFORE_KILL + WHILE_DOWN, timeout=1)

        assert _wait(all_delivered, timeout=60), log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        receiver.stop()

    emitted = set(OutboxEvent.objects.values_list("event_id", flat=True))
    assert len(emitted) == BEFORE_KILL + WHILE_DOWN
    received = Counter(receiver.ids())
    assert set(received) == emitted, "every event arrived"
    duplicates = {event_id for event_id, count in received.items() if count > 1}
    assert duplicates == {in_flight}, "only the request in flight at the kill was sent again"
    assert received[in_flight] == 2
    for event_id in duplicates:
        bodies = {r.body for r in receiver.requests if r.headers["webhook-id"] == event_id}
        assert len(bodies) == 1 and json.loads(bodies.pop())["id"] == event_id
