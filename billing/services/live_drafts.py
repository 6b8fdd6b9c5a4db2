"""Live drafts: the current draft invoice, its ROI figures and spend-cap alerts follow the events within
seconds, without a billing run.

Beat calls `live_drafts_refresh` every LIVE_DRAFTS_SECONDS. A cycle runs the rollup job for each
organization and reconciles, here and one after another, each customer whose rollups (usage, or outcome
counts) changed since the previous cycle, from the rollups; customers are split in LIVE_DRAFTS_SHARDS
shards, each its own cycle. One cycle per shard runs at a time (a cycle that finds the shard's previous
one still running leaves at once): under sustained ingestion every customer changes every
cycle, and refreshes sent as separate tasks would queue faster than workers drain them, so freshness
would grow without bound; a cycle instead takes what changed while the last one ran, so an event waits
at most about two cycles. (billing.refresh_customer_drafts still serves a single customer's change:
a reversal, a dispute.)
"""

from django.db import connection

from billing.services.reconcile import customer_drafts_refresh
from rollups.services import (
    changed_customers,
    drafts_mark_get,
    drafts_mark_set,
    organizations_with_events,
    rollups_advance,
)

# Advisory lock namespace of the cycle: one cycle per shard at a time across every worker.
CYCLE_LOCK = 0x7A12


def live_drafts_refresh(*, shard: int = 0, shards: int = 1) -> int:
    """One cycle of one shard (the customers whose id modulo `shards` is `shard`; beat sends one task per
    shard, LIVE_DRAFTS_SHARDS, so the shards run on as many workers): fold new events into the rollups
    and refresh the drafts of the shard's customers they changed. Returns how many were refreshed (0
    also when the shard's previous cycle is still running)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [CYCLE_LOCK, shard])
        if not cursor.fetchone()[0]:
            return 0
    try:
        refreshed = 0
        for organization_id in organizations_with_events():
            rollups_advance(organization_id=organization_id)
            since = drafts_mark_get(organization_id=organization_id, shard=shard)
            changed = changed_customers(organization_id=organization_id, since=since, shard=shard, shards=shards)
            for customer_id, _ in changed:
                customer_drafts_refresh(customer_id=customer_id)
                refreshed += 1
            if changed:
                drafts_mark_set(organization_id=organization_id, at=max(at for _, at in changed), shard=shard)
        return refreshed
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [CYCLE_LOCK, shard])
