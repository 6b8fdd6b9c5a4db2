"""Billing runs: reconcile a period for one customer or all of them, fanned out in chunks.

A run's chunks are rows (BillingRunChunk): a chunk is counted in the run's progress once, however often
its task is delivered (acks are late, so a task whose worker died runs again), and the reaper sends
again the unfinished chunks of a run that stopped moving: its worker was killed, or sending failed.
"""

import logging
import math
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import BillingRun, BillingRunChunk
from billing.services.reconcile import reconcile_customer
from billing.tasks import billing_run_chunk_task, billing_run_start_task
from billing.webhook_events import billing_run_completed_emit
from core.errors import DomainError, RateLimited
from core.periods import Period

logger = logging.getLogger(__name__)

ACTIVE = (BillingRun.Status.QUEUED, BillingRun.Status.RUNNING)
# A chunk sent this many times without finishing fails its run instead of being sent again: its
# customers kill their worker (or the workers are gone), and the run says so rather than spin.
MAX_SENDS = 3


def billing_run_create(
    *, organization: Organization, period: Period, customer: Customer | None = None, inline: bool = False
) -> BillingRun:
    """Reconcile `period` for one customer or all of them. The run goes to the workers once the caller's
    transaction commits (at once outside one), or, `inline`, runs here and returns finished.

    A run for the workers joins a queued or running run of the same scope instead of queueing another,
    and an organization starts at most BILLING_RUN_STARTS_PER_MINUTE of them a minute (RateLimited).
    """
    if period.start > Period.of(timezone.now()).start:
        raise DomainError(f"{period.label} has not started yet.", field="period")
    if inline:
        run = BillingRun.objects.create(organization=organization, period_start=period.start, customer=customer)
        return billing_run_execute(run_id=run.pk)
    with transaction.atomic():
        # The organization's row lock queues its run requests, so two at once cannot both miss the
        # other's run or both pass the limit.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        joined = (
            BillingRun.objects.filter(organization=organization, period_start=period.start, customer=customer,
                                      status__in=ACTIVE)
            .order_by("pk").first()
        )
        if joined is not None:
            return joined
        _check_start_limit(organization)
        run = BillingRun.objects.create(organization=organization, period_start=period.start, customer=customer)
        # A worker must see the committed run row, so the task is sent after the commit. With the broker
        # away the run stays queued (robust: logged, not raised) and the reaper sends it later.
        transaction.on_commit(lambda: billing_run_start_task.delay(run.pk), robust=True)
    run.refresh_from_db()  # outside a transaction and without a broker, the run has finished by now
    return run


def _check_start_limit(organization: Organization) -> None:
    limit = settings.BILLING_RUN_STARTS_PER_MINUTE
    window_start = timezone.now() - timedelta(minutes=1)
    recent = list(
        BillingRun.objects.filter(organization=organization, created_at__gt=window_start)
        .order_by("-created_at").values_list("created_at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        frees_at = recent[-1] + timedelta(minutes=1)  # when the oldest of the last `limit` leaves the window
        wait = math.ceil((frees_at - timezone.now()).total_seconds())
        raise RateLimited(f"Billing runs start at most {limit} a minute; try again in {max(1, wait)} s.",
                          retry_after=wait)


def billing_run_customer_ids(run: BillingRun) -> list[int]:
    customers = Customer.objects.filter(organization_id=run.organization_id)
    if run.customer_id:
        customers = customers.filter(pk=run.customer_id)
    return list(customers.order_by("pk").values_list("pk", flat=True))


def billing_run_start(*, run_id: int) -> list[int]:
    """Claim a queued run: mark it running with its cutoff and write its chunks, in one transaction.
    Returns the ids of the chunks to send (none when the run was already claimed: a redelivered start)."""
    # Customers per chunk (25): big enough that task overhead is noise, small enough that several
    # workers share a large run, progress moves visibly and a redelivered chunk redoes little.
    size = settings.BILLING_RUN_CHUNK_SIZE
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        if run.status != BillingRun.Status.QUEUED:
            return []
        customer_ids = billing_run_customer_ids(run)
        now = timezone.now()
        run.status, run.started_at = BillingRun.Status.RUNNING, now
        run.customers_total, run.customers_done = len(customer_ids), 0
        if not customer_ids:
            run.status, run.finished_at = BillingRun.Status.DONE, now
        run.save(update_fields=["status", "started_at", "customers_total", "customers_done", "finished_at"])
        if run.status == BillingRun.Status.DONE:
            billing_run_completed_emit(run=run)
        chunks = BillingRunChunk.objects.bulk_create(
            BillingRunChunk(run=run, position=position, customer_ids=customer_ids[i:i + size], sent_at=now)
            for position, i in enumerate(range(0, len(customer_ids), size))
        )
    return [chunk.pk for chunk in chunks]


def billing_run_chunk(*, chunk_id: int) -> bool:
    """Reconcile a chunk's customers (one transaction each) and count them in the run's progress, once;
    the last chunk closes the run. Returns False when the chunk had already been counted."""
    chunk = BillingRunChunk.objects.select_related("run").get(pk=chunk_id)
    run = chunk.run
    if chunk.done_at is not None or run.status != BillingRun.Status.RUNNING:
        return False  # a redelivery of a finished chunk, or the reaper gave up on the run
    period = Period(run.period_start)
    errors = []
    for customer_id in chunk.customer_ids:
        try:
            # A draft the live refresh kept current is left as it is (its stamp says nothing changed).
            reconcile_customer(customer_id=customer_id, period=period, cutoff=run.started_at, reuse_current=True)
        except DomainError as exc:
            external_id = Customer.objects.filter(pk=customer_id).values_list("external_id", flat=True).first()
            errors.append(f"{external_id}: {exc.message}")
        except Exception as exc:  # one customer's failure must not hide the others' invoices
            logger.exception("reconciliation of customer %s failed", customer_id)
            errors.append(f"customer {customer_id}: internal error ({type(exc).__name__})")
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run.pk)
        now = timezone.now()
        # Setting done_at once is what makes the count once: a second delivery updates no row.
        if not BillingRunChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(done_at=now):
            return False
        run.customers_done += len(chunk.customer_ids)
        if errors:
            run.error = (run.error + "\n" + "\n".join(errors)).strip()[:10000]
        fields = ["customers_done", "error"]
        if run.customers_done >= run.customers_total and run.status == BillingRun.Status.RUNNING:
            run.status = BillingRun.Status.FAILED if run.error else BillingRun.Status.DONE
            run.finished_at = now
            fields += ["status", "finished_at"]
            billing_run_completed_emit(run=run)
        run.save(update_fields=fields)
    return True


def billing_run_execute(*, run_id: int) -> BillingRun:
    """Run a whole billing run in this process."""
    for chunk_id in billing_run_start(run_id=run_id):
        billing_run_chunk(chunk_id=chunk_id)
    return BillingRun.objects.get(pk=run_id)


def billing_runs_reap(*, now: datetime | None = None) -> int:
    """Send again what a stalled run is waiting for; returns how many tasks were sent.

    A run is stalled when nothing moved for BILLING_RUN_STALL_SECONDS: queued with its start never
    handled (the start task was lost), or running with no chunk finished or sent in that time (its
    worker died and the broker has not delivered the task again, or sending the chunks failed after the
    run was claimed). Its unfinished chunks are sent again; a chunk already sent MAX_SENDS times fails
    its run instead. Safe to run at once with itself: each run is handled under its row lock.
    """
    now = now or timezone.now()
    stalled_since = now - timedelta(seconds=settings.BILLING_RUN_STALL_SECONDS)
    sent = 0
    for run_id in BillingRun.objects.filter(status=BillingRun.Status.QUEUED, created_at__lt=stalled_since) \
            .order_by("pk").values_list("pk", flat=True):
        logger.warning("billing run %s stalled while queued: its start is sent again", run_id)
        transaction.on_commit(partial(billing_run_start_task.delay, run_id))
        sent += 1
    running = (
        BillingRun.objects.filter(status=BillingRun.Status.RUNNING)
        .annotate(moved_at=Max(Coalesce("chunks__done_at", "chunks__sent_at")))
        .filter(Q(moved_at__lt=stalled_since) | Q(moved_at__isnull=True, started_at__lt=stalled_since))
        .order_by("pk").values_list("pk", flat=True)
    )
    for run_id in running:
        sent += _run_resend_chunks(run_id=run_id, now=now, stalled_since=stalled_since)
    return sent


def _run_resend_chunks(*, run_id: int, now: datetime, stalled_since: datetime) -> int:
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        chunks = list(run.chunks.filter(done_at__isnull=True, sent_at__lt=stalled_since).order_by("pk"))
        if run.status != BillingRun.Status.RUNNING or not chunks:
            return 0
        given_up = [chunk for chunk in chunks if chunk.sends >= MAX_SENDS]
        if given_up:
            run.status, run.finished_at = BillingRun.Status.FAILED, now
            run.error = (run.error + f"\nstalled: chunk {given_up[0].position} was sent {MAX_SENDS} times "
                         "and never finished").strip()[:10000]
            run.save(update_fields=["status", "finished_at", "error"])
            billing_run_completed_emit(run=run)
            logger.error("billing run %s failed: a chunk was sent %s times and never finished", run_id, MAX_SENDS)
            return 0
        for chunk in chunks:
            chunk.sent_at, chunk.sends = now, chunk.sends + 1
        BillingRunChunk.objects.bulk_update(chunks, ["sent_at", "sends"])
        logger.warning("billing run %s stalled: %s unfinished chunks sent again", run_id, len(chunks))
        chunk_ids = [chunk.pk for chunk in chunks]
        for chunk_id in chunk_ids:
            transaction.on_commit(partial(billing_run_chunk_task.delay, chunk_id))
    return len(chunk_ids)


def billing_refresh_open_drafts() -> int:
    """Refresh drafts of every organization: the current period, and the previous one while in grace."""
    now = timezone.now()
    current = Period.of(now)
    runs = 0
    for organization in Organization.objects.order_by("pk"):
        periods = [current]
        previous = current.previous()
        if (now.date() - previous.end).days < organization.invoice_grace_days:
            periods.insert(0, previous)
        for period in periods:
            billing_run_create(organization=organization, period=period, inline=True)
            runs += 1
    return runs
