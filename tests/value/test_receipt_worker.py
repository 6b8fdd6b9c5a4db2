"""The receipt of a finalized invoice is issued by a real Celery worker on Redis: billing fires
value.receipt_issue by name after the finalizing transaction commits."""

import time

import pytest
from django.conf import settings

from tests.factories import MeterFactory, OutcomeTypeFactory, RateFactory
from value.models import ValueReceipt
from value.selectors.receipts import receipt_verify

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL, reason="needs CELERY_BROKER_URL (Redis) for a real worker"),
]


@pytest.mark.django_db(transaction=True)
def test_finalizing_through_the_api_has_the_worker_seal_the_receipt(vendor, worker_queue, tmp_path) -> None:
    meter = MeterFactory.create(organization=vendor.organization)
    RateFactory.create(meter=meter, dimensions={"model": "gpt-4o"}, unit_cost="2.50", per=1_000_000)
    OutcomeTypeFactory.create(organization=vendor.organization, price="1.25", value="9.00")
    outcomes = [{"idempotency_key": f"o{i}", "customer": "acme", "outcome": "ticket_resolved", "task_id": f"t{i}",
                 "timestamp": "2026-10-11T12:00:00Z"} for i in range(3)]
    assert vendor.api.post("/api/v1/outcome-events", {"events": outcomes}).json()["accepted"] == 3
    run = vendor.api.post("/api/v1/billing-runs", {"period": "2026-10", "customer": "acme"}).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run["status"] in {"queued", "running"}:
        time.sleep(0.25)
        run = vendor.api.get(f"/api/v1/billing-runs/{run['id']}").json()
    assert run["status"] == "done", (tmp_path / "worker.log").read_text()[-3000:]
    [invoice] = vendor.api.get("/api/v1/invoices", customer="acme", period="2026-10").json()

    assert vendor.api.post(f"/api/v1/invoices/{invoice['id']}/finalize").status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ValueReceipt.objects.filter(customer=vendor.customer).exists():
        time.sleep(0.25)
    receipt = ValueReceipt.objects.filter(customer=vendor.customer).first()
    assert receipt is not None, (tmp_path / "worker.log").read_text()[-3000:]
    assert receipt.reason == ValueReceipt.Reason.FINALIZED and receipt_verify(receipt).ok
    listed = vendor.api.get("/api/v1/customers/acme/receipts").json()
    assert [r["content_hash"] for r in listed] == [receipt.content_hash]
    assert '"value_delivered":"27.00"' in receipt.content
