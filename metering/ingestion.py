"""Usage-event ingestion: the usage table's declaration for the ingest pipeline."""

from datetime import timedelta
from operator import itemgetter
from typing import Any

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.selectors import customer_ids_cached
from core.cache import HitCache
from ingest.body import gc_paused
from ingest.store import COPY_NULL, copy_line, copy_text, copy_text_staged, json_text, store_new_rows
from ingest.validate import (
    BatchResult,
    BatchValidator,
    PlainBatchValidator,
    any_later_than,
    check_batch,
    keep_first_of_each_key,
)
from metering.models import Meter
from metering.schemas import UsageEventIn, UsageEventPlain

USAGE_COLUMNS = (
    "organization_id", "customer_id", "meter_id", "task_id", "quantity", "timestamp", "properties",
    "idempotency_key", "received_at",
)
_validator = BatchValidator(UsageEventIn)
_plain_validator = PlainBatchValidator(UsageEventPlain)
# Customers and meters found in the last minute are not looked up again by this process (misses
# always are): a batch of known names costs no query at all.
_meters = HitCache(seconds=60)


@gc_paused
def usage_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    """Validate a batch and store its new events; see ingest.store.store_new_rows for the dedup guarantee.

    A batch in the plain spelling, naming known customers and meters, goes to COPY as sent (the
    fast tier); anything else, or a value PostgreSQL refuses, is validated event by event.
    """
    plain = _plain_validator.validate(body)
    if plain is not None:
        result = _ingest_plain(organization_id, plain)
        if result is not None:
            return result
    return _ingest_checked(organization_id, body)


def _ingest_plain(organization_id: int, events: list[dict[str, Any]]) -> BatchResult | None:
    """Store a batch that passed the plain tier; None to hand it to the full validation instead.

    Each check is one pass in C (map, set, max) over the batch: this runs for every event sent.
    """
    if not events:
        return BatchResult()
    now = timezone.now()
    customer_names, meter_codes = set(map(_customer, events)), set(map(_meter, events))
    customers, meters = _resolve(organization_id, customer_names, meter_codes)
    if len(customers) < len(customer_names) or len(meters) < len(meter_codes) or any_later_than(
        list(map(_timestamp, events)), now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    ):
        return None  # the full path names each unknown or future event
    kept, repeats = keep_first_of_each_key(events, key=_key)
    received = now.isoformat()
    properties = [json_text(e["properties"]) if e.get("properties") else "{}" for e in kept]
    if None in properties:
        return None  # NaN or an infinite number: the full path names the event
    lines = [
        f"{organization_id}\t{customers[e['customer']]}\t{meters[e['meter']]}\t{e.get('task_id') or COPY_NULL}\t"
        f"{e['quantity']}\t{e['timestamp']}\t{text}\t{e['idempotency_key']}\t{received}\n"
        for e, text in zip(kept, properties, strict=True)
    ]
    try:
        stored = _store("".join(lines), len(kept))
    except psycopg.errors.DataError:
        return None  # a date the pattern let through but the calendar has not (2 February 30)
    return BatchResult(accepted=stored, duplicates=repeats + len(kept) - stored)


_customer, _meter, _timestamp, _key = map(itemgetter, ("customer", "meter", "timestamp", "idempotency_key"))


def _ingest_checked(organization_id: int, body: bytes) -> BatchResult:
    """Validate each event against UsageEventIn and store the valid ones; errors name index and field."""
    batch = check_batch(_validator, body, resolvers={
        "customer": ("customer", lambda names: customer_ids_cached(organization_id=organization_id,
                                                                   external_ids=names)),
        "meter": ("meter", lambda codes: _meter_ids(organization_id, codes)),
    })
    customers, meters = batch.ids["customer"], batch.ids["meter"]
    lines = [
        copy_line((
            organization_id, customers[e.customer], meters[e.meter], e.task_id, e.quantity, e.timestamp,
            json_text(e.properties) if e.properties else "{}", e.idempotency_key, batch.now,
        ))
        for e in batch.events
    ]
    return batch.result(_store("".join(lines), len(lines)) if lines else 0)


def _resolve(organization_id: int, customer_names: set[str], meter_codes: set[str]
             ) -> tuple[dict[str, int], dict[str, int]]:
    return (customer_ids_cached(organization_id=organization_id, external_ids=customer_names),
            _meter_ids(organization_id, meter_codes))


def _meter_ids(organization_id: int, codes: set[str]) -> dict[str, int]:
    return _meters.get_many(
        organization_id, codes,
        lambda missing: dict(
            Meter.objects.filter(organization_id=organization_id, code__in=missing).values_list("code", "id")
        ),
    )


def _store(event_text: str, count: int) -> int:
    """Store `count` events given as COPY text, sorted by key; returns how many were new.

    Their keys are recorded by the table's trigger (migration 0004), whose primary key fails the COPY
    on any known key; then only the events whose keys are unknown are inserted.
    """
    return store_new_rows(
        fast=lambda: copy_text("metering_usageevent", USAGE_COLUMNS, event_text),
        slow=lambda: _store_new_only(event_text), count=count,
    )


def _store_new_only(event_text: str) -> int:
    columns = ", ".join(USAGE_COLUMNS)
    copy_text_staged("usage_staging", "metering_usageevent", USAGE_COLUMNS, event_text)
    # The NOT EXISTS only picks which events to try: a key committed by another batch after this
    # statement's snapshot still fails it in the key index, and the next attempt sees that key.
    attempts = 10
    while True:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO metering_usageevent ({columns})
                    SELECT {columns} FROM usage_staging s
                    WHERE NOT EXISTS (
                        SELECT FROM metering_usagekey k
                        WHERE k.organization_id = s.organization_id AND k.idempotency_key = s.idempotency_key
                    )
                    """
                )
                return cursor.rowcount
        except IntegrityError:
            attempts -= 1
            if not attempts:
                raise

