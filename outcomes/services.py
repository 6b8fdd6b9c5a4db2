from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organization, User
from accounts.selectors import customer_ids_cached
from core.cache import HitCache
from core.errors import Conflict, InvalidState, NotFound
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
from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType
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


def outcome_event_dispute(
    *, organization: Organization, idempotency_key: str, reason: str, actor_user: User | None = None,
    actor_label: str = "", customer_id: int | None = None,
) -> Dispute:
    """A customer challenges an outcome: it is held out of billing until the vendor decides."""
    with transaction.atomic():
        events = OutcomeEvent.objects.select_for_update().filter(
            organization=organization, idempotency_key=idempotency_key
        )
        if customer_id is not None:
            events = events.filter(customer_id=customer_id)
        event = events.first()
        if event is None:
            raise NotFound(f"No outcome event with idempotency_key {idempotency_key!r}.", field="idempotency_key")
        if event.status not in {OutcomeEvent.Status.PENDING, OutcomeEvent.Status.VERIFIED, OutcomeEvent.Status.BILLED}:
            raise InvalidState(f"A {event.status} outcome cannot be disputed.", field="idempotency_key")
        dispute = Dispute.objects.create(
            organization=organization, outcome_event=event, reason=reason, status_before=event.status,
            opened_by=actor_user, opened_by_label=actor_label,
        )
        _transition(event=event, to_status=OutcomeEvent.Status.DISPUTED, reason=reason, actor_user=actor_user,
                    actor_label=actor_label)
        event.save(update_fields=["status"])
        return dispute


def dispute_resolve(
    *, organization: Organization, dispute_id: int, accept: bool, note: str, actor_user: User | None = None,
    actor_label: str = "",
) -> Dispute:
    """The vendor decides. Accepted: the outcome is reversed (never billed, or credited if it was).
    Rejected: the outcome returns to where it was (billable, or billed), with the decision recorded."""
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().filter(organization=organization, pk=dispute_id).first()
        if dispute is None:
            raise NotFound(f"No dispute {dispute_id}.", field="id")
        if dispute.status != Dispute.Status.OPEN:
            raise InvalidState(f"The dispute is already {dispute.status}.", field="id")
        event = OutcomeEvent.objects.select_for_update().get(pk=dispute.outcome_event_id)
        if accept:
            to_status = OutcomeEvent.Status.REVERSED
            event.reversed_at = timezone.now()
            event.reversal_reason = f"dispute accepted: {note}"
        else:
            to_status = dispute.status_before
        _transition(event=event, to_status=to_status, reason=f"dispute {'accepted' if accept else 'rejected'}: {note}",
                    actor_user=actor_user, actor_label=actor_label)
        event.save(update_fields=["status", "reversed_at", "reversal_reason"])
        dispute.status = Dispute.Status.ACCEPTED if accept else Dispute.Status.REJECTED
        dispute.resolution_note, dispute.resolved_by, dispute.resolved_by_label = note, actor_user, actor_label
        dispute.resolved_at = timezone.now()
        dispute.save()
        return dispute
