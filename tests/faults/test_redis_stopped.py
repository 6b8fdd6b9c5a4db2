"""Redis stopped (a private redis-server started by the test, never the machine's own): ingestion keeps
working, as it never needs the broker; a billing run asked for meanwhile is accepted and stays queued;
once Redis is back, the reaper sends it and the workers finish it."""

import http.client
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from billing.models import BillingRun, Invoice
from metering.models import UsageEvent
from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.processes import (
    PrivateRedis,
    free_port,
    start_celery_beat,
    start_celery_worker,
    start_gunicorn,
    stop_gunicorn,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _post(port: int, path: str, body: dict[str, Any], raw_key: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {raw_key}",
                                                      "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def test_with_redis_stopped_ingestion_works_and_a_run_waits_until_redis_is_back(
    vendor: Any, redis: PrivateRedis, tmp_path: Path
) -> None:
    MeterFactory.create(organization=vendor.organization)
    OutcomeTypeFactory.create(organization=vendor.organization)
    queue = f"test-faults-{uuid.uuid4().hex[:8]}"
    # The reaper every second, for runs still queued after 2 s (production: every minute, 10 minutes).
    env = {"CELERY_BROKER_URL": redis.url, "CELERY_QUEUE": queue, "BILLING_RUN_STALL_SECONDS": "2",
           "BILLING_RUN_REAP_SECONDS": "1"}
    port = free_port()
    server = start_gunicorn(port=port, log_path=tmp_path / "gunicorn.log", workers=1, CELERY_BROKER_URL=redis.url,
                            CELERY_QUEUE=queue)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis.stop()
        usage = {"events": [{"idempotency_key": f"u{i}", "customer": "acme", "meter": "llm_tokens",
                             "quantity": "1000", "timestamp": "2026-10-10T12:00:00Z", "task_id": "t1",
                             "properties": {"model": "gpt-4o"}} for i in range(5)]}
        outcome = {"events": [{"idempotency_key": "o1", "customer": "acme", "outcome": "ticket_resolved",
                               "task_id": "t1", "timestamp": "2026-10-11T12:00:00Z"}]}
        ingested = _post(port, "/api/v1/usage-events", usage, vendor.api.raw_key)
        outcomes = _post(port, "/api/v1/outcome-events", outcome, vendor.api.raw_key)
        started = _post(port, "/api/v1/billing-runs", {"period": "2026-10"}, vendor.api.raw_key)

        assert ingested == (200, {"accepted": 5, "duplicates": 0, "rejected": []})
        assert outcomes[0] == 200 and outcomes[1]["accepted"] == 1
        assert started[0] == 202 and started[1]["status"] == "queued", started
        assert UsageEvent.objects.filter(organization=vendor.organization).count() == 5

        redis.start()  # back on the same port, empty: the run's start task was never sent
        log = tmp_path / "celery.log"
        processes.append(start_celery_worker(queue=queue, log_path=log, concurrency=1, **env))
        processes.append(start_celery_beat(queue=queue, log_path=tmp_path / "beat.log", **env))
        run = BillingRun.objects.get(pk=started[1]["id"])

        def finished() -> bool:
            run.refresh_from_db()
            return run.status not in (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING)

        assert _wait(finished, timeout=40), log.read_text(errors="replace")[-3000:]
    finally:
        for process in processes:
            _kill(process)
        stop_gunicorn(server)

    assert (run.status, run.customers_done) == (BillingRun.Status.DONE, 1)
    assert Invoice.objects.filter(customer=vendor.customer, period_start=run.period_start).exists()
