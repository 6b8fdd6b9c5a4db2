"""Live drafts: the current draft invoice, its ROI figures and spend-cap alerts follow the events within
seconds, without a billing run.

Beat calls `live_drafts_refresh` every LIVE_DRAFTS_SECONDS: it runs the rollup job for each organization
and sends each customer whose rollups (usage, or outcome counts) changed since the last call to
billing.refresh_customer_drafts, which reconciles that customer's open drafts from the rollups. One
customer's refresh reads its rollups (a few thousand rows at most) rather than its month of events.
"""

from functools import partial

from django.db import transaction

from billing.tasks import customer_drafts_refresh_task
from rollups.services import (
    changed_customers,
    drafts_mark_get,
    drafts_mark_set,
    organizations_with_events,
    rollups_advance,
)


def live_drafts_refresh() -> int:
    """Fold new events into the rollups and send the customers they changed to the drafts refresh.
    Returns how many customers were sent."""
    sent = 0
    for organization_id in organizations_with_events():
        rollups_advance(organization_id=organization_id)
        changed = changed_customers(organization_id=organization_id,
                                    since=drafts_mark_get(organization_id=organization_id))
        if not changed:
            continue
        with transaction.atomic():
            for customer_id, _ in changed:
                transaction.on_commit(partial(customer_drafts_refresh_task.delay, customer_id), robust=True)
            drafts_mark_set(organization_id=organization_id, at=max(at for _, at in changed))
        sent += len(changed)
    return sent
