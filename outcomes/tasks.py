"""Celery entry points of the outcomes app: each calls one service, imported in its body (services may
fire tasks, so tasks never import them at module level), and owns its retry policy."""

from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment; anything else is a bug, and retrying hides it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError)


@shared_task(name="outcomes.verify_due", autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=True)
def outcomes_verify_due_task() -> int:
    from outcomes.services import outcomes_verify_due

    return outcomes_verify_due()


@shared_task(name="outcomes.send_confirmation_requests", autoretry_for=TRANSIENT_ERRORS, max_retries=5,
             retry_backoff=True)
def confirmation_requests_send_task() -> int:
    """Yesterday's outcomes awaiting their customers' confirmation, one email per customer (beat, daily)."""
    from outcomes.confirmation_requests import confirmation_requests_send

    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    # Once a day, however often beat or a retry delivers it (the shared cache holds the mark two days).
    if not cache.add(f"outcomes:confirmation-requests:{today:%Y-%m-%d}", 1, timeout=2 * 86400):
        return 0
    return confirmation_requests_send(since=today - timedelta(days=1), until=today)
