"""The relay: outbox rows become one delivery per subscribed, enabled endpoint, then are marked relayed.

It runs after each emitting commit and from beat (the sweep), so a crash between a commit and its relay
loses nothing. Concurrent relays skip each other's locked rows, and a (endpoint, event) pair is unique,
so running it twice, or twice at once, creates each delivery once.
"""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from webhooks.models import OutboxEvent, WebhookDelivery, WebhookEndpoint

# Events per relay statement: a verification sweep of 50,000 is relayed in ten short transactions,
# each locking only its own rows.
RELAY_CHUNK = 5000

# One statement: lock a chunk of unrelayed events (skipping rows another relay holds), write one delivery
# per enabled endpoint of the event's organization subscribed to its type (a delivery that exists is
# left alone), and mark the chunk relayed. Plain SQL because the ORM would send every id and row back
# and forth (bench/webhooks_outbox.py: ~1,500 events/s that way).
_RELAY_SQL = """
WITH batch AS (
    SELECT id, organization_id, type FROM {outbox} WHERE relayed_at IS NULL ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), delivered AS (
    INSERT INTO {delivery} (organization_id, endpoint_id, event_id, status, attempts, next_attempt_at,
                            lease_token, created_at, updated_at)
    SELECT batch.organization_id, endpoint.id, batch.id, %(pending)s, 0, %(now)s, '', %(now)s, %(now)s
    FROM batch JOIN {endpoint} endpoint ON endpoint.organization_id = batch.organization_id
        AND endpoint.enabled AND batch.type = ANY(endpoint.events)
    ON CONFLICT DO NOTHING
    RETURNING 1
), relayed AS (
    UPDATE {outbox} SET relayed_at = %(now)s FROM batch WHERE {outbox}.id = batch.id RETURNING 1
)
SELECT (SELECT count(*) FROM relayed), (SELECT count(*) FROM delivered)
"""


def outbox_relay_chunk(*, now: datetime | None = None) -> int:
    """Relay up to RELAY_CHUNK unrelayed events; returns how many were relayed."""
    sql = _RELAY_SQL.format(outbox=OutboxEvent._meta.db_table, delivery=WebhookDelivery._meta.db_table,
                            endpoint=WebhookEndpoint._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, {"limit": RELAY_CHUNK, "pending": WebhookDelivery.Status.PENDING.value,
                             "now": now or timezone.now()})
        relayed, _ = cursor.fetchone()
        return int(relayed)


def outbox_relay(*, now: datetime | None = None) -> int:
    """Relay every unrelayed event, chunk by chunk; returns how many were relayed."""
    total = 0
    while True:
        relayed = outbox_relay_chunk(now=now)
        total += relayed
        if relayed < RELAY_CHUNK:
            return total
