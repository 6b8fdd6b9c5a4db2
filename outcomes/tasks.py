"""Celery entry points of the outcomes app: each calls one service, imported in its body (services may
fire tasks, so tasks never import them at module level), and owns its retry policy."""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment; anything else is a bug, and retrying hides it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError)


@shared_task(name="outcomes.verify_due", autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=True)
def outcomes_verify_due_task() -> int:
    from outcomes.services import outcomes_verify_due

    return outcomes_verify_due()
