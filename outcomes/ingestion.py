"""Outcome-event ingestion: the outcome table's declaration for the ingest pipeline."""

from datetime import datetime, timedelta
from typing import Any

from core.cache import HitCache
from ingest.pipeline import EventKind, Names, Rows, customers, ingest
from ingest.store import copy_line, json_text, json_texts
from ingest.validate import BatchResult
from outcomes.models import OutcomeEvent, OutcomeType
from outcomes.schemas import OutcomeEventIn, OutcomeEventPlain

OUTCOME_COLUMNS = (
    "organization_id", "customer_id", "outcome_type_id", "task_id", "timestamp", "properties",
    "idempotency_key", "received_at", "status", "verifiable_at", "reversal_reason",
)
# Outcome types found in the last minute are not looked up again by this process (misses always are).
# A changed verification window applies to new events within a minute.
_types = HitCache(seconds=60)
_PENDING = OutcomeEvent.Status.PENDING.value
_NO_PROPERTIES: dict[str, Any] = {}


def _type_ids(organization_id: int, codes: set[str]) -> dict[str, tuple[int, timedelta | None]]:
    """Outcome type code -> (id, verification window), from the per-process cache of hits. The window is
    None for a type that silence does not verify: its outcomes await evidence (verifiable_at NULL)."""
    return _types.get_many(organization_id, codes, lambda missing: {
        t.code: (t.pk, t.verification_window if t.verified_by_silence else None)
        for t in OutcomeType.objects.filter(organization_id=organization_id, code__in=missing).only(
            "code", "id", "verification_window_hours", "verification_methods", "silence_is_consent")
    })


def _plain_lines(rows: Rows[dict[str, Any]]) -> list[str] | None:
    """The times are parsed only for `verifiable_at`; everything else goes to COPY as sent."""
    properties = json_texts([e.get("properties") or _NO_PROPERTIES for e in rows.events])
    if properties is None:
        return None  # NaN or an infinite number: the checked tier names the event
    customer_ids, types, received = rows.ids["customer"], rows.ids["outcome"], rows.received.isoformat()
    lines = []
    for e, text in zip(rows.events, properties, strict=True):
        type_id, window = types[e["outcome"]]
        try:
            moment = datetime.fromisoformat(e["timestamp"])
        except ValueError:
            return None  # a date the pattern let through but the calendar has not (2 February 30)
        verifiable_at = r"\N" if window is None else (moment + window).isoformat()
        lines.append(
            f"{rows.organization_id}\t{customer_ids[e['customer']]}\t{type_id}\t{e['task_id']}\t{e['timestamp']}\t"
            f"{text}\t{e['idempotency_key']}\t{received}\t{_PENDING}\t{verifiable_at}\t\n"
        )
    return lines


def _full_lines(rows: Rows[OutcomeEventIn]) -> list[str]:
    customer_ids, types = rows.ids["customer"], rows.ids["outcome"]
    lines = []
    for e in rows.events:
        type_id, window = types[e.outcome]
        lines.append(copy_line((
            rows.organization_id, customer_ids[e.customer], type_id, e.task_id, e.timestamp,
            json_text(e.properties) if e.properties else "{}", e.idempotency_key, rows.received, _PENDING,
            None if window is None else e.timestamp + window, "",
        )))
    return lines


OUTCOME_EVENTS = EventKind(
    table="outcomes_outcomeevent", columns=OUTCOME_COLUMNS, plain=OutcomeEventPlain, full=OutcomeEventIn,
    names={"customer": customers, "outcome": Names("outcome type", _type_ids)},
    plain_lines=_plain_lines, full_lines=_full_lines,
    known_keys="outcomes_outcomeevent",  # its unique index on (organization_id, idempotency_key)
)


def outcome_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    return ingest(OUTCOME_EVENTS, organization_id=organization_id, body=body)
