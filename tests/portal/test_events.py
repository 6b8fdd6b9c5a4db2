"""The event debugger in the vendor console: usage so far, events by cursor, and one event's trace."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.metering.test_ingest_usage import URL, usage
from tests.portal.conftest import login

pytestmark = pytest.mark.django_db
EVENTS = reverse("portal:customer-events", args=["acme"])
TRACE = reverse("portal:event-trace", args=["acme"])


@pytest.fixture
def events(vendor):
    MeterFactory.create(organization=vendor.organization)
    MeterFactory.create(organization=vendor.organization, code="gpu_seconds", name="GPU seconds", unit="second")
    vendor.api.post("/api/v1/rates", {"meter": "llm_tokens", "dimensions": {"model": "gpt-4o"}, "unit_cost": "2.50",
                                      "per": "1000000", "currency": "USD", "effective_from": "2026-01-01T00:00:00Z"})
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [usage(f"call-{i:03d}", task_id=f"task-{i % 3}", timestamp=(now - timedelta(minutes=i)).isoformat())
             for i in range(60)]
    batch.append(usage("gpu-1", meter="gpu_seconds", quantity="12.5", task_id="task-0", properties={"gpu": "h100"},
                       timestamp=now.isoformat()))
    assert vendor.api.post(URL, {"events": batch}).json()["accepted"] == 61
    OutcomeTypeFactory.create(organization=vendor.organization)
    vendor.api.post("/api/v1/outcome-events", {"events": [
        {"idempotency_key": "done-0", "customer": "acme", "outcome": "ticket_resolved", "task_id": "task-0",
         "timestamp": now.isoformat()}]})
    return now


def test_events_page_shows_usage_so_far_and_pages_the_events_by_cursor(vendor, events) -> None:
    client = login(vendor.admin)
    first = client.get(EVENTS)

    assert first.status_code == 200
    summary = {row.meter.code: row for row in first.context["summary"]}
    assert summary["llm_tokens"].events_period == 60 and summary["gpu_seconds"].quantity_period == 12.5
    keys = [event.idempotency_key for event in first.context["events"]]
    assert len(keys) == 50 and keys[0] in {"call-000", "gpu-1"}
    assert b"done-0" in first.content  # the latest outcome events, with a trace link each
    second = client.get(EVENTS + "?" + first.context["next_query"])
    rest = [event.idempotency_key for event in second.context["events"]]
    assert len(rest) == 11 and not set(rest) & set(keys)
    assert second.context["next_query"] is None


def test_events_are_filtered_by_task_meter_and_days(vendor, events) -> None:
    client = login(vendor.admin)
    by_task = client.get(EVENTS, {"task_id": "task-1"}).context["events"]
    assert {event.task_id for event in by_task} == {"task-1"} and len(by_task) == 20
    meter_id = next(pk for pk, code in client.get(EVENTS).context["meters"].items() if code == "gpu_seconds")
    assert [e.idempotency_key for e in client.get(EVENTS, {"meter": meter_id}).context["events"]] == ["gpu-1"]
    tomorrow = (events + timedelta(days=1)).date().isoformat()
    assert client.get(EVENTS, {"day_from": tomorrow}).context["events"] == []
    backwards = client.get(EVENTS, {"day_from": tomorrow, "day_to": events.date().isoformat()})
    assert backwards.status_code == 200 and backwards.context["form"].errors
    broken = client.get(EVENTS, {"cursor": "not-a-cursor"})
    assert broken.status_code == 200 and broken.context["cursor_error"]


def test_usage_trace_shows_the_rate_and_why_no_invoice_line(vendor, events) -> None:
    response = login(vendor.admin).get(TRACE, {"usage": "call-001"})

    assert response.status_code == 200
    assert response.context["trace"]["rate"]["matched"] is True
    assert b"0.00375 USD" in response.content
    assert b"period_not_billed" in response.content or b"task_has_no_billable_outcome" in response.content
    gpu = login(vendor.admin).get(TRACE, {"usage": "gpu-1"})
    assert b"no_rate_for_meter" in gpu.content


def test_outcome_trace_shows_its_status(vendor, events) -> None:
    response = login(vendor.admin).get(TRACE, {"outcome": "done-0"})
    assert response.status_code == 200
    assert response.context["trace"]["event"]["status"] == "pending"


def test_strangers_and_customer_users_never_see_the_events(vendor, stranger, globex_finance, events) -> None:
    theirs = login(stranger.admin).get(EVENTS)  # the stranger's own customer "acme": none of these events
    assert theirs.status_code == 200 and theirs.context["events"] == [] and b"call-0" not in theirs.content
    assert login(stranger.admin).get(TRACE, {"usage": "call-001"}).status_code == 404
    assert login(stranger.admin).get(reverse("portal:customer-events", args=["globex"])).status_code == 404
    assert login(globex_finance).get(EVENTS).status_code == 403
    other_customer_page = reverse("portal:event-trace", args=["globex"])
    assert login(vendor.admin).get(other_customer_page, {"usage": "call-001"}).status_code == 404
    assert login(vendor.admin).get(TRACE, {"usage": "no-such-key"}).status_code == 404


def test_events_page_query_count_does_not_grow_with_the_events(vendor, events, django_assert_max_num_queries) -> None:
    client = login(vendor.admin)
    client.get(EVENTS)
    with django_assert_max_num_queries(12):
        client.get(EVENTS)


def test_the_task_page_links_a_vendor_to_the_tasks_events(billed, vendor, globex_finance) -> None:
    line = billed.invoice("acme", "2026-10").lines.exclude(task_id=None).first()
    page = reverse("portal:task-detail", args=[line.invoice_id, line.task_id])
    link = f'{reverse("portal:customer-events", args=["acme"])}?task_id={quote(line.task_id)}'.encode()
    assert link in login(vendor.admin).get(page).content
    theirs = billed.invoice("globex", "2026-10").lines.exclude(task_id=None).first()
    customer_view = login(globex_finance).get(reverse("portal:task-detail", args=[theirs.invoice_id, theirs.task_id]))
    assert customer_view.status_code == 200 and b"Usage events of this task" not in customer_view.content


def _csv(response) -> list[dict[str, str]]:
    import csv
    import io

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_filtered_events_download_as_csv_oldest_first(vendor, events) -> None:
    client = login(vendor.admin)
    everything = _csv(client.get(reverse("portal:customer-events-csv", args=["acme"])))
    assert len(everything) == 61
    assert [row["timestamp"] for row in everything] == sorted(row["timestamp"] for row in everything)
    gpu = next(row for row in everything if row["idempotency_key"] == "gpu-1")
    assert (gpu["meter"], gpu["quantity"], gpu["task_id"], gpu["properties"]) == (
        "gpu_seconds", "12.5", "task-0", '{"gpu":"h100"}')
    one_task = _csv(client.get(reverse("portal:customer-events-csv", args=["acme"]), {"task_id": "task-2"}))
    assert {row["task_id"] for row in one_task} == {"task-2"} and len(one_task) == 20
    page = client.get(EVENTS, {"task_id": "task-2", "cursor": "x"})
    assert b"usage.csv?task_id=task-2" in page.content  # the page's link carries its filters, not its cursor
    bad = client.get(reverse("portal:customer-events-csv", args=["acme"]), {"day_from": "not-a-date"})
    assert bad.status_code == 400 and b"day_from" in bad.content


def test_the_csv_defuses_formulas_and_is_scoped(vendor, stranger, globex_finance, events) -> None:
    vendor.api.post(URL, {"events": [usage("=HYPERLINK(1)", task_id="+cmd")]})
    rows = _csv(login(vendor.admin).get(reverse("portal:customer-events-csv", args=["acme"])))
    formula = next(row for row in rows if row["task_id"].endswith("+cmd"))
    assert (formula["idempotency_key"], formula["task_id"]) == ("'=HYPERLINK(1)", "'+cmd")
    theirs = _csv(login(stranger.admin).get(reverse("portal:customer-events-csv", args=["acme"])))
    assert theirs == []
    assert login(globex_finance).get(reverse("portal:customer-events-csv", args=["acme"])).status_code == 403
