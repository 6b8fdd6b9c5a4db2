from django.db.models import QuerySet

from accounts.models import Organization
from billing.models import BillingRun
from core.errors import NotFound


def billing_run_list(*, organization: Organization) -> QuerySet[BillingRun]:
    return (
        BillingRun.objects.filter(organization=organization)
        .select_related("customer")
        .order_by("-created_at", "-pk")
    )


def billing_run_get(*, organization: Organization, run_id: int) -> BillingRun:
    run = billing_run_list(organization=organization).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No billing run {run_id}.", field="id")
    return run
