"""The outbox: an event is a row written in the transaction of the change it announces.

Both commit or neither does (no event without its change, no change without its event). After the
commit the relay task is fired when an endpoint listens; if the process dies first, or none listened,
the periodic sweep (beat, `webhooks.relay`) finds the row.
"""

import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from webhooks.events import EVENT_TYPES
from webhooks.models import OutboxEvent, WebhookEndpoint
from webhooks.tasks import webhooks_relay_task

# Rows per INSERT when many events are emitted at once (a verification sweep): large enough that the
# round trips vanish next to the rows, small enough that one statement's parameters stay far below
# PostgreSQL's 65,535 limit (7 columns a row).
EMIT_CHUNK = 2000


def new_event_id() -> str:
    """A unique, unguessable message id ("msg_" + 26 hex digits), the `webhook-id` receivers dedupe on."""
    return "msg_" + secrets.token_hex(13)


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as JSON would give it back (Decimal and dates as strings), so what is stored is what is sent."""
    return dict(json.loads(json.dumps(dict(data), cls=DjangoJSONEncoder)))


def _require_transaction() -> None:
    # The promise rests on sharing the caller's transaction: outside one, the event would commit alone.
    if not connection.in_atomic_block:
        raise RuntimeError("event_emit must be called inside the transaction.atomic() block that makes the change")


def _relay_on_commit(*, organization_ids: set[int], types: set[str]) -> None:
    """Relay after commit when an enabled endpoint listens; otherwise the sweep marks the rows relayed."""
    listening = WebhookEndpoint.objects.filter(organization_id__in=organization_ids, enabled=True,
                                               events__overlap=sorted(types))
    if listening.exists():
        transaction.on_commit(webhooks_relay_task.delay)


def _check_type(type: str) -> None:
    if type not in EVENT_TYPES:
        raise DomainError(f"Unknown webhook event type {type!r}.", field="type")


def event_emit(*, organization_id: int, type: str, data: Mapping[str, Any], once_key: str | None = None) -> None:
    """Announce a change: write its outbox row in the caller's transaction, relayed after commit.

    With `once_key`, an event already announced under that key (for this organization) is not written
    again: e.g. `invoice.overdue` is announced once per invoice however often the check runs.
    """
    _require_transaction()
    _check_type(type)
    row = OutboxEvent(organization_id=organization_id, event_id=new_event_id(), type=type, data=_plain(data),
                      once_key=once_key or "", created_at=timezone.now())
    if once_key is None:
        row.save(force_insert=True)
    else:
        OutboxEvent.objects.bulk_create([row], ignore_conflicts=True)
    _relay_on_commit(organization_ids={organization_id}, types={type})


def events_emit(*, events: Iterable[tuple[int, str, Mapping[str, Any]]]) -> int:
    """Announce many changes made by one statement, as (organization_id, type, data): multi-row inserts,
    one relay after commit. Returns how many were written."""
    _require_transaction()
    now = timezone.now()
    rows: list[OutboxEvent] = []
    written = 0
    organization_ids: set[int] = set()
    types: set[str] = set()
    for organization_id, type, data in events:
        _check_type(type)
        organization_ids.add(organization_id)
        types.add(type)
        rows.append(OutboxEvent(organization_id=organization_id, event_id=new_event_id(), type=type,
                                data=_plain(data), created_at=now))
        if len(rows) >= EMIT_CHUNK:
            OutboxEvent.objects.bulk_create(rows)
            written += len(rows)
            rows = []
    if rows:
        OutboxEvent.objects.bulk_create(rows)
        written += len(rows)
    if written:
        _relay_on_commit(organization_ids=organization_ids, types=types)
    return written
