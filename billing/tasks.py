"""Celery entry points: they take ids, call one service, and own their retry policy.

Each imports its service in its body: services fire tasks (on commit), so this module imports none of
them at load time and there is no import cycle.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment; anything else is a bug, and retrying hides it.
# Every task here is safe to run again: a start finds its run claimed and sends nothing twice, a chunk
# reconciles its customers to the same invoices and counts them in its last transaction, the beat jobs
# are idempotent.
RETRY = {"autoretry_for": (OperationalError, InterfaceError, BrokerError), "max_retries": 5, "retry_backoff": True}


@shared_task(name="billing.run_start", **RETRY)
def billing_run_start_task(run_id: int) -> int:
    from billing.services.runs import billing_run_start

    chunks = billing_run_start(run_id=run_id)
    for chunk in chunks:
        billing_run_chunk_task.delay(run_id, chunk)
    return len(chunks)


@shared_task(name="billing.run_chunk", **RETRY)
def billing_run_chunk_task(run_id: int, customer_ids: list[int]) -> None:
    from billing.services.runs import billing_run_chunk

    billing_run_chunk(run_id=run_id, customer_ids=customer_ids)


@shared_task(name="billing.refresh_open_drafts", **RETRY)
def billing_refresh_open_drafts_task() -> int:
    from billing.services.runs import billing_refresh_open_drafts

    return billing_refresh_open_drafts()


@shared_task(name="billing.finalize_due", **RETRY)
def invoices_finalize_due_task() -> int:
    from billing.services.finalize import invoices_finalize_due

    return invoices_finalize_due()


@shared_task(name="billing.expire_credits", **RETRY)
def credits_expire_task() -> int:
    from billing.services.wallet import credits_expire

    return credits_expire()
