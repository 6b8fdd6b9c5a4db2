"""Celery entry points of the metering app: each calls one service, imported in its body (services may
fire tasks, so tasks never import them at module level), and owns its retry policy."""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment; anything else is a bug, and retrying hides it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError)


@shared_task(name="metering.ensure_partitions", autoretry_for=TRANSIENT_ERRORS, max_retries=5, retry_backoff=True)
def partitions_ensure_task() -> list[str]:
    from metering.partitions import partitions_ensure

    return partitions_ensure(today=timezone.now().date(), months_ahead=3)
