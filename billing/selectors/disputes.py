from typing import TYPE_CHECKING

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.models import Customer, Organization
from billing.models import Invoice
from outcomes.selectors import dispute_list

if TYPE_CHECKING:  # a type for annotations only: the rows come from the outcomes app's selector
    from outcomes.models import Dispute


def dispute_list_with_invoices(
    *, organization: Organization, customer: Customer | None = None, open_: bool
) -> "QuerySet[Dispute]":
    """The disputes (open ones oldest first, or resolved ones newest first), each with `invoice_id`: the
    invoice of its outcome's period, for a link to the task page."""
    period_invoice = Invoice.objects.filter(
        organization=organization,
        customer_id=OuterRef("outcome_event__customer_id"),
        period_start__lte=OuterRef("outcome_event__timestamp"),
        period_end__gt=OuterRef("outcome_event__timestamp"),
    )
    disputes = dispute_list(organization_id=organization.pk, customer_id=customer.pk if customer else None,
                            open_=open_)
    return disputes.annotate(invoice_id=Subquery(period_invoice.values("pk")[:1]))
