"""Celery entry points: they take ids, call one service, and own their retry policy.

Each imports its service in its body: services fire tasks (on commit), so this module imports none of
them at load time and there is no import cycle.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# A database or broker that went away for a moment; anything else is a bug, and retrying hides it.
# Every task here is safe to run again: a start finds its run claimed and sends nothing twice, a chunk
# already counted is skipped (its row's done_at is set once), the beat jobs are idempotent.
RETRY = {"autoretry_for": (OperationalError, InterfaceError, BrokerError), "max_retries": 5, "retry_backoff": True}


@shared_task(name="billing.run_start", **RETRY)
def billing_run_start_task(run_id: int) -> int:
    from billing.services.runs import billing_run_start

    chunk_ids = billing_run_start(run_id=run_id)
    # If sending fails half way, the run is claimed and a retry sends nothing: billing.reap_runs sends
    # its unfinished chunks once it has not moved for BILLING_RUN_STALL_SECONDS.
    for chunk_id in chunk_ids:
        billing_run_chunk_task.delay(chunk_id)
    return len(chunk_ids)


@shared_task(name="billing.run_chunk", **RETRY)
def billing_run_chunk_task(chunk_id: int) -> bool:
    from billing.services.runs import billing_run_chunk

    return billing_run_chunk(chunk_id=chunk_id)


@shared_task(name="billing.reap_runs", **RETRY)
def billing_runs_reap_task() -> int:
    from billing.services.runs import billing_runs_reap

    return billing_runs_reap()


@shared_task(name="billing.refresh_open_drafts", **RETRY)
def billing_refresh_open_drafts_task() -> int:
    from billing.services.runs import billing_refresh_open_drafts

    return billing_refresh_open_drafts()


@shared_task(name="billing.refresh_customer_drafts", **RETRY)
def customer_drafts_refresh_task(customer_id: int) -> int:
    """Sent by outcomes (by this name) after an outcome stops counting: see outcomes.services."""
    from billing.services.reconcile import customer_drafts_refresh

    return len(customer_drafts_refresh(customer_id=customer_id))


@shared_task(name="billing.refresh_live_drafts", **RETRY)
def live_drafts_refresh_task(shard: int = 0, shards: int = 1) -> int:
    from billing.services.live_drafts import live_drafts_refresh

    return live_drafts_refresh(shard=shard, shards=shards)


@shared_task(name="billing.finalize_due", **RETRY)
def invoices_finalize_due_task() -> int:
    from billing.services.finalize import invoices_finalize_due

    return invoices_finalize_due()


@shared_task(name="billing.expire_credits", **RETRY)
def credits_expire_task() -> int:
    from billing.services.wallet import credits_expire

    return credits_expire()


@shared_task(name="billing.announce_overdue", **RETRY)
def invoices_overdue_announce_task() -> int:
    """Beat: `invoice.overdue` for each invoice that passed its due date unpaid, once per invoice."""
    from django.utils import timezone

    from billing.services.overdue import invoices_overdue_announce

    return invoices_overdue_announce(today=timezone.now().date())


@shared_task(name="billing.archive_usage", **RETRY)
def usage_archive_task() -> int:
    """Beat, daily: usage events past retention with final invoices leave for the archive."""
    from pathlib import Path

    from django.conf import settings
    from django.utils import timezone

    from billing.services.archive import usage_archive

    export_dir = Path(getattr(settings, "USAGE_ARCHIVE_DIR", "archive"))
    return len(usage_archive(today=timezone.now().date(), export_dir=export_dir))
