"""One end-to-end run: events over HTTP, a billing run through a real Celery worker on Redis, the invoice."""

import time

import pytest
from django.conf import settings

from tests.factories import MeterFactory, OutcomeTypeFactory, RateFactory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for a real worker"),
]


@pytest.mark.django_db(transaction=True)
def test_billing_run_through_a_real_worker_writes_the_invoice(vendor, worker_queue, tmp_path) -> None:
    meter = MeterFactory.create(organization=vendor.organization)
    RateFactory.create(meter=meter, dimensions={"model": "gpt-4o"}, unit_cost="2.50", per=1_000_000)
    OutcomeTypeFactory.create(organization=vendor.organization, price="1.25")
    usage = [
        {"idempotency_key": f"u{i}", "customer": "acme", "meter": "llm_tokens", "quantity": "400000",
         "timestamp": "2026-10-10T12:00:00Z", "task_id": f"t{i % 2}", "properties": {"model": "gpt-4o"}}
        for i in range(4)
    ]
    outcomes = [{"idempotency_key": "o1", "customer": "acme", "outcome": "ticket_resolved", "task_id": "t0",
                 "timestamp": "2026-10-11T12:00:00Z"}]
    assert vendor.api.post("/api/v1/usage-events", {"events": usage}).json()["accepted"] == 4
    assert vendor.api.post("/api/v1/outcome-events", {"events": outcomes}).json()["accepted"] == 1

    response = vendor.api.post("/api/v1/billing-runs", {"period": "2026-10"})
    assert response.status_code == 202
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    deadline = time.monotonic() + 60
    status = "queued"
    while time.monotonic() < deadline and status in {"queued", "running"}:
        time.sleep(0.25)
        status = vendor.api.get(f"/api/v1/billing-runs/{run_id}").json()["status"]
    assert status == "done", (tmp_path / "worker.log").read_text()[-3000:]

    invoices = vendor.api.get("/api/v1/invoices", customer="acme", period="2026-10").json()
    assert len(invoices) == 1
    invoice = vendor.api.get(f"/api/v1/invoices/{invoices[0]['id']}").json()
    assert invoice["total"] == "1.25"
    assert [(line["task_id"], line["outcome"], line["amount"], line["cost"]) for line in invoice["lines"]] == [
        ("t0", "ticket_resolved", "1.25", "2")
    ]
