"""Celery entry points (queue `webhooks`): they take ids, call one service, and own their retry policy.

Services fire these by name after commit; each imports its service in its body, so there is no cycle.
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
    from webhooks.services.relay import outbox_relay

    return outbox_relay()
