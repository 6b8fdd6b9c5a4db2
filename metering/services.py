from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import customer_ids_by_external_id
from config.errors import Conflict, DomainError
from config.ingest import BatchResult, BatchValidator, copy_rows, dumps_properties, first_of_each_key
from metering.models import Meter, Rate
from metering.schemas import UsageEventIn

USAGE_COLUMNS = (
    "organization_id", "customer_id", "meter_id", "task_id", "quantity", "timestamp", "properties",
    "idempotency_key", "received_at",
)
_validator = BatchValidator(UsageEventIn)


def meter_create(
    *, organization: Organization, code: str, name: str, unit: str, aggregation: str, unique_property: str = ""
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
    """Validate a batch and store its new events; see config.ingest for the dedup guarantee."""
    valid, rejected = _validator.validate(body)
    now = timezone.now()
    latest_allowed = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    customers = customer_ids_by_external_id(
        organization_id=organization_id, external_ids={event.customer for _, event in valid}
    )
    meters = dict(
        Meter.objects.filter(organization_id=organization_id, code__in={event.meter for _, event in valid})
        .values_list("code", "id")
    )
    rows: list[tuple[Any, ...]] = []
    keyed: list[tuple[int, UsageEventIn]] = []
    for index, event in valid:
        errors = {}
        if event.customer not in customers:
            errors["customer"] = f"Unknown customer {event.customer!r}."
        if event.meter not in meters:
            errors["meter"] = f"Unknown meter {event.meter!r}."
        if event.timestamp > latest_allowed:
            errors["timestamp"] = "More than 5 minutes in the future."
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            keyed.append((index, event))
    kept, repeats = first_of_each_key(keyed)
    for _, event in kept:
        rows.append((
            organization_id, customers[event.customer], meters[event.meter], event.task_id, event.quantity,
            event.timestamp, dumps_properties(event.properties), event.idempotency_key, now,
        ))
    stored = _store(organization_id=organization_id, rows=rows) if rows else 0
    rejected.sort(key=lambda item: item["index"])
    return BatchResult(accepted=stored, duplicates=repeats + len(rows) - stored, rejected=rejected)


def _store(*, organization_id: int, rows: list[tuple[Any, ...]]) -> int:
    with transaction.atomic():
        try:
            # The common case, a batch never seen before: two COPYs. The key table's primary key
            # makes the first COPY fail on any known key, and then the set-based path below runs.
            with transaction.atomic():
                copy_rows("metering_usagekey", ("organization_id", "idempotency_key"),
                          ((organization_id, row[7]) for row in rows))
                copy_rows("metering_usageevent", USAGE_COLUMNS, rows)
                return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        return _store_new_only(rows=rows)


def _store_new_only(*, rows: list[tuple[Any, ...]]) -> int:
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
                INSERT INTO metering_usagekey (organization_id, idempotency_key)
                SELECT organization_id, idempotency_key FROM usage_staging
                ON CONFLICT DO NOTHING
                RETURNING idempotency_key
            )
            INSERT INTO metering_usageevent ({columns})
            SELECT {", ".join("s." + c for c in USAGE_COLUMNS)}
            FROM usage_staging s JOIN new_keys k ON k.idempotency_key = s.idempotency_key
            """
        )
        return cursor.rowcount
