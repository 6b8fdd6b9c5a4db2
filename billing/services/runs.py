"""Billing runs: reconcile a period for one customer or all of them, fanned out in chunks."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import BillingRun
from billing.services.reconcile import reconcile_customer
from billing.tasks import billing_run_start_task
from core.errors import DomainError
from core.periods import Period

logger = logging.getLogger(__name__)

# Customers per Celery task: big enough that task overhead is noise, small enough that several
# workers share a large run and progress moves visibly (one customer is ~15-150 ms).
CHUNK_SIZE = 25


def billing_run_create(
    *, organization: Organization, period: Period, customer: Customer | None = None, inline: bool = False
) -> BillingRun:
    """Reconcile `period` for one customer or all of them. The run goes to the workers once the caller's
    transaction commits (at once outside one), or, `inline`, runs here and returns finished."""
    if period.start > Period.of(timezone.now()).start:
        raise DomainError(f"{period.label} has not started yet.", field="period")
    run = BillingRun.objects.create(organization=organization, period_start=period.start, customer=customer)
    if inline:
        return billing_run_execute(run_id=run.pk)
    # A worker must see the committed run row, so the task is sent after the commit.
    transaction.on_commit(lambda: billing_run_start_task.delay(run.pk))
    run.refresh_from_db()  # outside a transaction and without a broker, the run has finished by now
    return run


def billing_run_customer_ids(run: BillingRun) -> list[int]:
    customers = Customer.objects.filter(organization_id=run.organization_id)
    if run.customer_id:
        customers = customers.filter(pk=run.customer_id)
    return list(customers.order_by("pk").values_list("pk", flat=True))


def billing_run_start(*, run_id: int) -> list[list[int]]:
    """Mark the run running with its cutoff and return the customer chunks to reconcile."""
    run = BillingRun.objects.get(pk=run_id)
    customer_ids = billing_run_customer_ids(run)
    started = timezone.now()
    claimed = BillingRun.objects.filter(pk=run.pk, status=BillingRun.Status.QUEUED).update(
        status=BillingRun.Status.RUNNING, started_at=started, customers_total=len(customer_ids), customers_done=0,
    )
    if not claimed:  # already started: a redelivered start task or a rerun of a finished run
        return []
    if not customer_ids:
        BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.DONE, finished_at=timezone.now())
    return [customer_ids[i:i + CHUNK_SIZE] for i in range(0, len(customer_ids), CHUNK_SIZE)]


def billing_run_chunk(*, run_id: int, customer_ids: list[int]) -> None:
    """Reconcile some customers of a run (one transaction each); the last chunk closes the run."""
    run = BillingRun.objects.get(pk=run_id)
    period = Period(run.period_start)
    errors = []
    for customer_id in customer_ids:
        try:
            reconcile_customer(customer_id=customer_id, period=period, cutoff=run.started_at)
        except DomainError as exc:
            external_id = Customer.objects.filter(pk=customer_id).values_list("external_id", flat=True).first()
            errors.append(f"{external_id}: {exc.message}")
        except Exception as exc:  # one customer's failure must not hide the others' invoices
            logger.exception("reconciliation of customer %s failed", customer_id)
            errors.append(f"customer {customer_id}: internal error ({type(exc).__name__})")
    with transaction.atomic():
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        run.customers_done = F("customers_done") + len(customer_ids)
        if errors:
            run.error = (run.error + "\n" + "\n".join(errors)).strip()[:10000]
        run.save(update_fields=["customers_done", "error"])
        run.refresh_from_db()
        if run.customers_done >= run.customers_total:
            run.status = BillingRun.Status.FAILED if run.error else BillingRun.Status.DONE
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])


def billing_run_execute(*, run_id: int) -> BillingRun:
    """Run a whole billing run in this process."""
    for chunk in billing_run_start(run_id=run_id):
        billing_run_chunk(run_id=run_id, customer_ids=chunk)
    return BillingRun.objects.get(pk=run_id)


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
