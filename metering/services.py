from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import customer_ids_cached
from config.errors import Conflict, DomainError
from config.ingest import (
    BatchResult,
    BatchValidator,
    HitCache,
    copy_rows,
    gc_paused,
    keep_first_of_each_key,
    reject_unresolved,
    store_new_rows,
)
from metering.models import Meter, Rate
from metering.schemas import UsageEventIn

USAGE_COLUMNS = (
    "organization_id", "customer_id", "meter_id", "task_id", "quantity", "timestamp", "properties",
    "idempotency_key", "received_at",
)
KEY_COLUMNS = ("organization_id", "idempotency_key", "customer_id", "timestamp")
_validator = BatchValidator(UsageEventIn)
# Customers and meters found in the last minute are not looked up again by this process (misses
# always are): a batch of known names costs no query at all.
_meters = HitCache(seconds=60)


def meter_create(
    *, organization: Organization, code: str, name: str, unit: str, aggregation: str,
    unique_property: str = "",
) -> Meter:
    try:
        with transaction.atomic():
            return Meter.objects.create(
                organization=organization, code=code, name=name, unit=unit, aggregation=aggregation,
                unique_property=unique_property,
            )
    except IntegrityError as exc:
        raise Conflict(f"A meter with code {code!r} already exists.", field="code") from exc


def rate_create(
    *,
    organization: Organization,
    meter_code: str,
    dimensions: dict[str, Any],
    unit_cost: Decimal,
    per: Decimal,
    currency: str,
    effective_from: datetime,
) -> Rate:
    meter = Meter.objects.filter(organization=organization, code=meter_code).first()
    if meter is None:
        raise DomainError(f"No meter with code {meter_code!r}.", field="meter")
    return Rate.objects.create(
        organization=organization, meter=meter, dimensions=dimensions, dimension_count=len(dimensions),
        unit_cost=unit_cost, per=per, currency=currency, effective_from=effective_from,
    )


def usage_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    """Validate a batch and store its new events; see config.ingest.store_new_rows for the dedup guarantee."""
    with gc_paused():
        events, indexes, rejected = _validator.validate(body)
        if not events:
            return BatchResult(rejected=rejected)
        now = timezone.now()
        customer_names = {event.customer for event in events}
        meter_codes = {event.meter for event in events}
        customers = customer_ids_cached(organization_id=organization_id, external_ids=customer_names)
        meters = _meters.get_many(
            organization_id, meter_codes,
            lambda codes: dict(
                Meter.objects.filter(organization_id=organization_id, code__in=codes)
                .values_list("code", "id")
            ),
        )
        latest_allowed = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
        if (len(customers) < len(customer_names) or len(meters) < len(meter_codes)
                or max(event.timestamp for event in events) > latest_allowed):
            events = reject_unresolved(events, indexes, rejected, latest_allowed=latest_allowed, known=[
                ("customer", customers, "customer"), ("meter", meters, "meter")])
        kept, repeats = keep_first_of_each_key(events)
        # Sorted by key: concurrent batches then lock the key index in one order (see store_new_rows).
        kept.sort(key=attrgetter("idempotency_key"))
        dumps = orjson.dumps
        rows = [
            (organization_id, customers[e.customer], meters[e.meter], e.task_id, e.quantity, e.timestamp,
             dumps(e.properties).decode() if e.properties else "{}", e.idempotency_key, now)
            for e in kept
        ]
        stored = _store(rows) if rows else 0
        rejected.sort(key=lambda item: item["index"])
        return BatchResult(accepted=stored, duplicates=repeats + len(rows) - stored, rejected=rejected)



def _store(rows: list[tuple[Any, ...]]) -> int:
    def fast() -> None:
        # The common case, a batch never seen before: two COPYs in one transaction. The key table's
        # primary key makes the first fail on any known key, and then `slow` runs instead.
        copy_rows("metering_usagekey", KEY_COLUMNS, ((row[0], row[7], row[1], row[5]) for row in rows))
        copy_rows("metering_usageevent", USAGE_COLUMNS, rows)

    return store_new_rows(fast=fast, slow=lambda: _store_new_only(rows), count=len(rows))


def _store_new_only(rows: list[tuple[Any, ...]]) -> int:
    columns = ", ".join(USAGE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS usage_staging ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM metering_usageevent WITH NO DATA"
        )
        cursor.execute("DELETE FROM usage_staging")
    copy_rows("usage_staging", USAGE_COLUMNS, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH new_keys AS (
                INSERT INTO metering_usagekey ({", ".join(KEY_COLUMNS)})
                SELECT organization_id, idempotency_key, customer_id, timestamp FROM usage_staging
                ORDER BY idempotency_key
                ON CONFLICT DO NOTHING
                RETURNING idempotency_key
            )
            INSERT INTO metering_usageevent ({columns})
            SELECT {", ".join("s." + c for c in USAGE_COLUMNS)}
            FROM usage_staging s JOIN new_keys k ON k.idempotency_key = s.idempotency_key
            """
        )
        return cursor.rowcount
