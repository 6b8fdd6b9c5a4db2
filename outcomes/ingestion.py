"""Outcome-event ingestion: the outcome table's declaration for the ingest pipeline."""

from datetime import datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.selectors import customer_ids_cached
from core.cache import HitCache
from ingest.body import gc_paused
from ingest.store import copy_line, copy_text, copy_text_staged, json_text, store_new_rows
from ingest.validate import (
    BatchResult,
    BatchValidator,
    PlainBatchValidator,
    any_later_than,
    check_batch,
    keep_first_of_each_key,
)
from outcomes.models import OutcomeEvent, OutcomeType
from outcomes.schemas import OutcomeEventIn, OutcomeEventPlain

OUTCOME_COLUMNS = (
    "organization_id", "customer_id", "outcome_type_id", "task_id", "timestamp", "properties",
    "idempotency_key", "received_at", "status", "verifiable_at", "reversal_reason",
)
_validator = BatchValidator(OutcomeEventIn)
_plain_validator = PlainBatchValidator(OutcomeEventPlain)
# Customers and outcome types found in the last minute are not looked up again by this process
# (misses always are). A changed verification window applies to new events within a minute.
_types = HitCache(seconds=60)


@gc_paused
def outcome_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    """Validate a batch and store its new outcome events; see ingest.store.store_new_rows for dedup.

    As for usage events: a batch in the plain spelling naming known customers and outcome types goes
    to COPY as sent (only its times are parsed, for `verifiable_at`); anything else is validated event
    by event.
    """
    plain = _plain_validator.validate(body)
    if plain is not None:
        result = _ingest_plain(organization_id, plain)
        if result is not None:
            return result
    return _ingest_checked(organization_id, body)


def _ingest_plain(organization_id: int, events: list[dict[str, Any]]) -> BatchResult | None:
    """Store a batch that passed the plain tier; None to hand it to the full validation instead."""
    if not events:
        return BatchResult()
    now = timezone.now()
    customer_names, type_codes = set(map(_customer, events)), set(map(_outcome, events))
    customers = customer_ids_cached(organization_id=organization_id, external_ids=customer_names)
    types = _type_ids(organization_id, type_codes)
    if len(customers) < len(customer_names) or len(types) < len(type_codes) or any_later_than(
        list(map(_timestamp, events)), now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    ):
        return None  # the full path names each unknown or future event
    kept, repeats = keep_first_of_each_key(events, key=_key)
    kept.sort(key=_key)  # see store_new_rows: concurrent batches lock the key index in one order
    received, pending = now.isoformat(), OutcomeEvent.Status.PENDING.value
    lines = []
    for e in kept:
        type_id, window = types[e["outcome"]]
        try:
            verifiable_at = (datetime.fromisoformat(e["timestamp"]) + window).isoformat()
        except ValueError:
            return None  # a date the pattern let through but the calendar has not (2 February 30)
        properties = json_text(e["properties"]) if e.get("properties") else "{}"
        if properties is None:
            return None  # NaN or an infinite number: the full path names the event
        lines.append(
            f"{organization_id}\t{customers[e['customer']]}\t{type_id}\t{e['task_id']}\t{e['timestamp']}\t"
            f"{properties}\t{e['idempotency_key']}\t{received}\t{pending}\t{verifiable_at}\t\n"
        )
    try:
        stored = _store("".join(lines), len(lines))
    except psycopg.errors.DataError:
        return None  # a value PostgreSQL refuses: the full path names the event
    return BatchResult(accepted=stored, duplicates=repeats + len(lines) - stored)


_customer, _outcome, _timestamp, _key = map(itemgetter, ("customer", "outcome", "timestamp", "idempotency_key"))


def _ingest_checked(organization_id: int, body: bytes) -> BatchResult:
    """Validate each event against OutcomeEventIn and store the valid ones; errors name index and field."""
    batch = check_batch(_validator, body, resolvers={
        "customer": ("customer", lambda names: customer_ids_cached(organization_id=organization_id,
                                                                   external_ids=names)),
        "outcome": ("outcome type", lambda codes: _type_ids(organization_id, codes)),
    })
    customers, types = batch.ids["customer"], batch.ids["outcome"]
    # Sorted by key: concurrent batches then lock the key index in one order (see store_new_rows).
    kept = sorted(batch.events, key=attrgetter("idempotency_key"))
    pending = OutcomeEvent.Status.PENDING.value
    lines = []
    for e in kept:
        type_id, window = types[e.outcome]
        lines.append(copy_line((
            organization_id, customers[e.customer], type_id, e.task_id, e.timestamp,
            json_text(e.properties) if e.properties else "{}", e.idempotency_key, batch.now, pending,
            e.timestamp + window, "",
        )))
    return batch.result(_store("".join(lines), len(lines)) if lines else 0)


def _type_ids(organization_id: int, codes: set[str]) -> dict[str, tuple[int, timedelta]]:
    """Outcome type code -> (id, verification window), from the per-process cache of hits."""
    return _types.get_many(organization_id, codes, lambda missing: {
        code: (type_id, timedelta(hours=hours))
        for code, type_id, hours in OutcomeType.objects.filter(
            organization_id=organization_id, code__in=missing
        ).values_list("code", "id", "verification_window_hours")
    })


def _store(text: str, count: int) -> int:
    # New keys only (the common case): one COPY; the unique index rejects a known key.
    return store_new_rows(
        fast=lambda: copy_text("outcomes_outcomeevent", OUTCOME_COLUMNS, text),
        slow=lambda: _store_new_only(text), count=count,
    )


def _store_new_only(text: str) -> int:
    columns = ", ".join(OUTCOME_COLUMNS)
    copy_text_staged("outcome_staging", "outcomes_outcomeevent", OUTCOME_COLUMNS, text)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO outcomes_outcomeevent ({columns}) SELECT {columns} FROM outcome_staging "
            "ORDER BY idempotency_key ON CONFLICT (organization_id, idempotency_key) DO NOTHING"
        )
        return cursor.rowcount


