from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organization, User
from accounts.selectors import customer_ids_by_external_id
from config.errors import Conflict, InvalidState, NotFound
from config.ingest import BatchResult, BatchValidator, copy_rows, dumps_properties, first_of_each_key
from outcomes.models import OutcomeEvent, OutcomeTransition, OutcomeType
from outcomes.schemas import OutcomeEventIn

OUTCOME_COLUMNS = (
    "organization_id", "customer_id", "outcome_type_id", "task_id", "timestamp", "properties",
    "idempotency_key", "received_at", "status", "verifiable_at", "reversal_reason",
)
_validator = BatchValidator(OutcomeEventIn)
# Verification is done in chunks so one beat tick holds row locks briefly; 5,000 rows is ~50 ms.
VERIFY_CHUNK = 5000


def outcome_type_create(
    *,
    organization: Organization,
    code: str,
    name: str,
    price: Decimal,
    currency: str,
    verification_window_hours: int,
    value: Decimal,
) -> OutcomeType:
    try:
        with transaction.atomic():
            return OutcomeType.objects.create(
                organization=organization, code=code, name=name, price=price, currency=currency,
                verification_window_hours=verification_window_hours, value=value,
            )
    except IntegrityError as exc:
        raise Conflict(f"An outcome type with code {code!r} already exists.", field="code") from exc


def outcome_events_ingest(*, organization_id: int, body: bytes) -> BatchResult:
    valid, rejected = _validator.validate(body)
    now = timezone.now()
    latest_allowed = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    customers = customer_ids_by_external_id(
        organization_id=organization_id, external_ids={event.customer for _, event in valid}
    )
    types = {
        code: (type_id, timedelta(hours=hours))
        for code, type_id, hours in OutcomeType.objects.filter(
            organization_id=organization_id, code__in={event.outcome for _, event in valid}
        ).values_list("code", "id", "verification_window_hours")
    }
    keyed = []
    for index, event in valid:
        errors = {}
        if event.customer not in customers:
            errors["customer"] = f"Unknown customer {event.customer!r}."
        if event.outcome not in types:
            errors["outcome"] = f"Unknown outcome type {event.outcome!r}."
        if event.timestamp > latest_allowed:
            errors["timestamp"] = "More than 5 minutes in the future."
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            keyed.append((index, event))
    kept, repeats = first_of_each_key(keyed)
    rows = []
    for _, event in kept:
        type_id, window = types[event.outcome]
        rows.append((
            organization_id, customers[event.customer], type_id, event.task_id, event.timestamp,
            dumps_properties(event.properties), event.idempotency_key, now, OutcomeEvent.Status.PENDING,
            event.timestamp + window, "",
        ))
    stored = _store(rows) if rows else 0
    rejected.sort(key=lambda item: item["index"])
    return BatchResult(accepted=stored, duplicates=repeats + len(rows) - stored, rejected=rejected)


def _store(rows: list[tuple[Any, ...]]) -> int:
    with transaction.atomic():
        try:
            # New keys only (the common case): one COPY; the unique index rejects a known key.
            with transaction.atomic():
                copy_rows("outcomes_outcomeevent", OUTCOME_COLUMNS, rows)
                return len(rows)
        except psycopg.errors.UniqueViolation:
            pass
        columns = ", ".join(OUTCOME_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS outcome_staging ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM outcomes_outcomeevent WITH NO DATA"
            )
            cursor.execute("DELETE FROM outcome_staging")
        copy_rows("outcome_staging", OUTCOME_COLUMNS, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO outcomes_outcomeevent ({columns}) SELECT {columns} FROM outcome_staging "
                "ON CONFLICT (organization_id, idempotency_key) DO NOTHING"
            )
            return cursor.rowcount


def _transition(
    *, event: OutcomeEvent, to_status: str, reason: str = "", actor_user: User | None = None, actor_label: str = ""
) -> None:
    OutcomeTransition.objects.create(
        organization_id=event.organization_id, outcome_event=event, from_status=event.status,
        to_status=to_status, reason=reason, actor_user=actor_user, actor_label=actor_label,
    )
    event.status = to_status


def outcome_event_reverse(
    *, organization: Organization, idempotency_key: str, reason: str, actor_label: str = "",
    actor_user: User | None = None,
) -> OutcomeEvent:
    """The outcome no longer counts (the ticket was reopened). Reversing twice is a no-op."""
    with transaction.atomic():
        event = (
            OutcomeEvent.objects.select_for_update()
            .filter(organization=organization, idempotency_key=idempotency_key)
            .first()
        )
        if event is None:
            raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
        if event.reversed_at is not None:
            return event
        if event.status == OutcomeEvent.Status.CREDITED:
            raise InvalidState("This outcome was already credited.", field="idempotency_key")
        _transition(event=event, to_status=OutcomeEvent.Status.REVERSED, reason=reason,
                    actor_user=actor_user, actor_label=actor_label)
        event.reversed_at = timezone.now()
        event.reversal_reason = reason
        event.save(update_fields=["status", "reversed_at", "reversal_reason"])
        return event


def outcomes_verify_due(*, now: datetime | None = None) -> int:
    """Move pending outcomes whose verification window has passed to verified. Safe to run at once twice."""
    now = now or timezone.now()
    verified = 0
    while True:
        with transaction.atomic():
            events = list(
                OutcomeEvent.objects.select_for_update(skip_locked=True)
                .filter(status=OutcomeEvent.Status.PENDING, verifiable_at__lte=now)
                .order_by("pk")[:VERIFY_CHUNK]
            )
            if not events:
                return verified
            OutcomeTransition.objects.bulk_create(
                OutcomeTransition(
                    organization_id=event.organization_id, outcome_event=event, from_status=event.status,
                    to_status=OutcomeEvent.Status.VERIFIED, actor_label="system",
                    reason="verification window passed",
                )
                for event in events
            )
            OutcomeEvent.objects.filter(pk__in=[event.pk for event in events]).update(
                status=OutcomeEvent.Status.VERIFIED
            )
            verified += len(events)
