from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import BillingRun
from billing.periods import Period
from billing.services.reconcile import reconcile_customer


def billing_run_create(*, organization: Organization, period: Period, customer: Customer | None = None) -> BillingRun:
    from billing.tasks import billing_run_execute_task  # the task module imports services, not the reverse

    run = BillingRun.objects.create(organization=organization, period_start=period.start, customer=customer)
    transaction.on_commit(lambda: billing_run_execute_task.delay(run.pk))
    return run


def billing_run_execute(*, run_id: int) -> BillingRun:
    """Reconcile every customer of the run, one transaction each, counting progress as it goes."""
    run = BillingRun.objects.get(pk=run_id)
    if run.status == BillingRun.Status.DONE:
        return run
    customers = Customer.objects.filter(organization_id=run.organization_id)
    if run.customer_id:
        customers = customers.filter(pk=run.customer_id)
    customer_ids = list(customers.order_by("pk").values_list("pk", flat=True))
    cutoff = timezone.now()
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRun.Status.RUNNING, started_at=cutoff, customers_total=len(customer_ids), customers_done=0,
        error="",
    )
    period = Period(run.period_start)
    try:
        for customer_id in customer_ids:
            reconcile_customer(customer_id=customer_id, period=period, cutoff=cutoff)
            BillingRun.objects.filter(pk=run.pk).update(customers_done=F("customers_done") + 1)
    except Exception as exc:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRun.Status.DONE, finished_at=timezone.now())
    run.refresh_from_db()
    return run


def billing_refresh_open_drafts() -> int:
    """Refresh the current period's drafts of every organization (the hourly beat job)."""
    period = Period.of(timezone.now())
    runs = 0
    for organization in Organization.objects.order_by("pk"):
        run = BillingRun.objects.create(organization=organization, period_start=period.start)
        billing_run_execute(run_id=run.pk)
        runs += 1
    return runs
