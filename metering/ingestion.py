"""Usage-event ingestion: the usage table's declaration for the ingest pipeline."""

from typing import Any

from core.cache import HitCache
from ingest.pipeline import EventKind, Names, Rows, customers, ingest
from ingest.store import COPY_NULL, copy_line, json_text, json_texts
from ingest.validate import BatchResult
from metering.models import Meter
from metering.schemas import UsageEventIn, UsageEventPlain

USAGE_COLUMNS = (
    "organization_id", "customer_id", "meter_id", "task_id", "quantity", "timestamp", "properties",
    "idempotency_key", "received_at",
)
# Meters found in the last minute are not looked up again by this process (misses always are): with
# customers cached alike, a batch of known names costs no query at all.
_meters = HitCache(seconds=60)
_NO_PROPERTIES: dict[str, Any] = {}


def _meter_ids(organization_id: int, codes: set[str]) -> dict[str, int]:
    return _meters.get_many(organization_id, codes, lambda missing: dict(
        Meter.objects.filter(organization_id=organization_id, code__in=missing).values_list("code", "id")
    ))


def _plain_lines(rows: Rows[dict[str, Any]]) -> list[str] | None:
    events = rows.events
    properties = json_texts([e.get("properties") or _NO_PROPERTIES for e in events])
    if properties is None:
        return None  # NaN or an infinite number: the checked tier names the event
    # What is the same for many events is written once: each name's id, and the columns around the event's.
    customer_ids = {name: str(id_) for name, id_ in rows.ids["customer"].items()}
    meter_ids = {name: str(id_) for name, id_ in rows.ids["meter"].items()}
    head, tail = f"{rows.organization_id}\t", f"\t{rows.received.isoformat()}\n"
    return [
        f"{head}{customer_ids[e['customer']]}\t{meter_ids[e['meter']]}\t{e.get('task_id') or COPY_NULL}\t"
        f"{e['quantity']}\t{e['timestamp']}\t{text}\t{e['idempotency_key']}{tail}"
        for e, text in zip(events, properties, strict=True)
    ]


def _full_lines(rows: Rows[UsageEventIn]) -> list[str]:
    customer_ids, meter_ids = rows.ids["customer"], rows.ids["meter"]
    return [
        copy_line((
            rows.organization_id, customer_ids[e.customer], meter_ids[e.meter], e.task_id, e.quantity, e.timestamp,
            json_text(e.properties) if e.properties else "{}", e.idempotency_key, rows.received,
        ))
        for e in rows.events
    ]


USAGE_EVENTS = EventKind(
    table="metering_usageevent", columns=USAGE_COLUMNS, plain=UsageEventPlain, full=UsageEventIn,
    names={"customer": customers, "meter": Names("meter", _meter_ids)},
    plain_lines=_plain_lines, full_lines=_full_lines,
    # The table's trigger (migration 0004) records each key there, in one statement with the rows.
    known_keys="metering_usagekey",
    exact_number="quantity",
)


def usage_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    return ingest(USAGE_EVENTS, organization_id=organization_id, body=body)
