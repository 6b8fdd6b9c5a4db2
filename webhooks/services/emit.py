"""The outbox: an event is a row written in the transaction of the change it announces.

Both commit or neither does (no event without its change, no change without its event). After the
commit the relay task is fired when an endpoint listens; if the process dies first, or none listened,
the periodic sweep (beat, `webhooks.relay`) finds the row.
"""

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from webhooks.events import EVENT_TYPES
from webhooks.models import OutboxEvent, WebhookEndpoint
from webhooks.tasks import webhooks_relay_task

# Rows per write to the COPY stream when many events are emitted at once: bounds the text held at once.
EMIT_CHUNK = 2000
# COPY's text format: a backslash, tab or line break inside a value is escaped (JSON text has no raw
# tabs or line breaks, but its own escapes are backslashes).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


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
    """Announce many changes made by one statement, as (organization_id, type, data): one COPY into the
    outbox, one relay after commit. Returns how many were written.

    COPY, because an INSERT of thousands of rows spends most of its time quoting parameters on the
    client (bench/webhooks_outbox.py: ~220 us an event with bulk_create, far less with COPY)."""
    _require_transaction()
    now = timezone.now().isoformat()
    organization_ids: set[int] = set()
    types: set[str] = set()
    written = 0
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {OutboxEvent._meta.db_table} (organization_id, event_id, type, data, once_key, created_at) FROM STDIN"
    ) as copy:
        lines: list[str] = []
        for organization_id, type, data in events:
            _check_type(type)
            organization_ids.add(organization_id)
            types.add(type)
            payload = json.dumps(dict(data), cls=DjangoJSONEncoder).translate(_COPY_ESCAPES)
            lines.append(f"{int(organization_id)}\t{new_event_id()}\t{type}\t{payload}\t\t{now}\n")
            if len(lines) >= EMIT_CHUNK:
                copy.write("".join(lines))
                written, lines = written + len(lines), []
        copy.write("".join(lines))
        written += len(lines)
    if written:
        _relay_on_commit(organization_ids=organization_ids, types=types)
    return written


def events_emit_from_query(*, type: str, query: str, params: Sequence[Any]) -> int:
    """Announce many changes whose payloads the database can build: `query` selects (organization_id,
    data jsonb), one row per event; one INSERT ... SELECT writes them all, ids drawn by PostgreSQL (26
    hex digits of gen_random_uuid(), the shape of new_event_id). Returns how many were written.

    For a sweep that moves thousands of rows in one statement (outcome verification): no row crosses
    the wire and no payload is built in Python, so announcing costs little next to the move itself."""
    _require_transaction()
    _check_type(type)
    table = OutboxEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS (INSERT INTO {table} (organization_id, event_id, type, data, once_key, created_at) "
            f"SELECT s.organization_id, 'msg_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 26), %s, "
            f"s.data, '', now() FROM ({query}) AS s (organization_id, data) RETURNING organization_id) "
            f"SELECT organization_id, count(*) FROM written GROUP BY organization_id",
            [type, *params],
        )
        written = {organization_id: count for organization_id, count in cursor.fetchall()}
    if written:
        _relay_on_commit(organization_ids=set(written), types={type})
    return sum(written.values())
