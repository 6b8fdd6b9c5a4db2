"""Celery entry points (queue `webhooks`): they take ids, call one service, and own their retry policy.

Services fire these after commit; each imports its service in its body, so there is no cycle.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment. Every task here is safe to run twice: the relay
# skips relayed rows, and an attempt runs only under the lease it claimed.
RETRY = {"autoretry_for": (OperationalError, InterfaceError, BrokerError), "max_retries": 5, "retry_backoff": True}


@shared_task(name="webhooks.relay", **RETRY)
def webhooks_relay_task() -> int:
    """After an emitting commit, and from beat as the sweep: outbox rows to deliveries."""
    from webhooks.services.delivery import deliveries_dispatch_due
    from webhooks.services.relay import outbox_relay

    relayed = outbox_relay()
    deliveries_dispatch_due()
    return relayed


@shared_task(name="webhooks.dispatch", **RETRY)
def webhooks_dispatch_task() -> int:
    """Queue an attempt for every delivery that is due (after a resend, and from the sweep)."""
    from webhooks.services.delivery import deliveries_dispatch_due

    return deliveries_dispatch_due()


@shared_task(name="webhooks.deliver", **RETRY)
def webhooks_deliver_task(delivery_id: int, token: str) -> bool | None:
    """One attempt of one delivery; its retries are scheduled in the database, not by Celery, so a
    backoff of hours never sits in the broker past its visibility timeout."""
    from webhooks.services.delivery import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id, token=token)


@shared_task(name="webhooks.prune", **RETRY)
def webhooks_prune_task() -> int:
    """Beat, daily: events and delivery logs past WEBHOOKS_RETENTION_DAYS."""
    from webhooks.services.retention import outbox_prune

    return outbox_prune()
