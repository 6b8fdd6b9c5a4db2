"""Reads for the portal's pages and exports: invoices, customers' period figures, tasks, ROI history.

Every function takes the organization (and, for a customer's user, the customer) and filters on
it first, so a page cannot reach another tenant's rows by passing a foreign id.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from accounts.models import Customer, Organization
from billing.models import (
    BillingRun,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Notification,
    PriceBook,
    PriceBookEntry,
    PriceBookMeter,
    RoiReport,
)
from core.errors import NotFound
from core.periods import Period
from metering.models import UsageEvent
from outcomes.models import Dispute, OutcomeEvent, OutcomeTransition, OutcomeType

# A task's usage is shown on one page; past this many events the page says how many it left out.
TASK_USAGE_LIMIT = 500


def invoice_search(
    *,
    organization: Organization,
    customer: Customer | None = None,
    period: Period | None = None,
    status: str | None = None,
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(organization=organization).select_related("customer")
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    if period is not None:
        invoices = invoices.filter(period_start=period.start)
    if status:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-period_start", "customer__external_id", "pk")


def invoice_periods(*, organization: Organization, customer: Customer | None = None) -> list[Period]:
    """The periods that have an invoice, newest first (for period pickers)."""
    invoices = Invoice.objects.filter(organization=organization)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    starts = invoices.order_by("-period_start").values_list("period_start", flat=True).distinct()
    return [Period(start) for start in starts]


def invoice_for_page(
    *, organization: Organization, invoice_id: int, customer: Customer | None = None
) -> Invoice:
    invoices = Invoice.objects.filter(organization=organization, pk=invoice_id)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    invoice = invoices.select_related("customer", "price_book").first()
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.", field="id")
    return invoice


def invoice_lines(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return (
        InvoiceLine.objects.filter(invoice=invoice, organization_id=invoice.organization_id)
        .select_related("outcome_type", "outcome_event")
        .order_by("position", "pk")
    )


def invoice_line_get(*, invoice: Invoice, line_id: int) -> InvoiceLine:
    line = invoice_lines(invoice=invoice).filter(pk=line_id).first()
    if line is None:
        raise NotFound(f"No line {line_id} on this invoice.", field="line")
    return line


@dataclass(frozen=True)
class TaskView:
    """A task as seen from one invoice: its lines there, its outcome claims, the usage behind its cost."""

    task_id: str
    lines: list[InvoiceLine]
    outcomes: list[OutcomeEvent]
    usage: list[UsageEvent]
    usage_total: int
    usage_start: datetime
    usage_end: datetime

    @property
    def usage_truncated(self) -> bool:
        return self.usage_total > len(self.usage)


def task_view(*, invoice: Invoice, task_id: str) -> TaskView:
    """The task's lines on the invoice, all its outcome events, and its usage in the invoice's period.

    The invoice has already been scoped to the viewer; every read here is pinned to its customer.
    """
    lines = list(invoice_lines(invoice=invoice).filter(task_id=task_id))
    outcomes = list(
        OutcomeEvent.objects.filter(
            organization_id=invoice.organization_id, customer_id=invoice.customer_id, task_id=task_id
        )
        .select_related("outcome_type")
        .prefetch_related(
            Prefetch(
                "transitions",
                queryset=OutcomeTransition.objects.order_by("created_at", "pk").select_related("actor_user"),
            ),
            Prefetch(
                "disputes", queryset=Dispute.objects.order_by("opened_at", "pk").select_related("opened_by")
            ),
        )
        .order_by("timestamp", "pk")
    )
    period = Period(invoice.period_start)
    events = UsageEvent.objects.filter(
        organization_id=invoice.organization_id,
        customer_id=invoice.customer_id,
        task_id=task_id,
        timestamp__gte=period.start_at,
        timestamp__lt=period.end_at,
    )
    usage = list(events.select_related("meter").order_by("timestamp", "id")[:TASK_USAGE_LIMIT])
    usage_total = len(usage) if len(usage) < TASK_USAGE_LIMIT else events.count()
    if not lines and not outcomes and not usage:
        raise NotFound(f"No task {task_id!r} for this invoice's customer.", field="task_id")
    return TaskView(task_id, lines, outcomes, usage, usage_total, period.start_at, period.end_at)


def customer_period_rows(*, organization: Organization, period: Period) -> QuerySet[Customer]:
    """Customers with their invoice and ROI figures for `period`: one query, however many customers."""
    invoice = Invoice.objects.filter(customer=OuterRef("pk"), period_start=period.start)
    roi = RoiReport.objects.filter(customer=OuterRef("pk"), period_start=period.start)
    return (
        Customer.objects.filter(organization=organization)
        .annotate(
            invoice_id=Subquery(invoice.values("pk")[:1]),
            invoice_status=Subquery(invoice.values("status")[:1]),
            invoice_total=Subquery(invoice.values("total")[:1]),
            invoice_currency=Subquery(invoice.values("currency")[:1]),
            roi_value=Subquery(roi.values("value_delivered")[:1]),
            roi_billed=Subquery(roi.values("billed")[:1]),
            roi_cost=Subquery(roi.values("cost_to_serve")[:1]),
            roi_cost_currency=Subquery(roi.values("cost_currency")[:1]),
            roi_currency=Subquery(roi.values("currency")[:1]),
        )
        .order_by("name", "external_id")
    )


def customer_for_page(*, organization: Organization, external_id: str) -> Customer:
    customer = Customer.objects.filter(organization=organization, external_id=external_id).first()
    if customer is None:
        raise NotFound(f"No customer {external_id!r}.", field="customer")
    return customer


def roi_periods(*, customer: Customer) -> list[Period]:
    starts = (
        RoiReport.objects.filter(customer=customer)
        .order_by("-period_start")
        .values_list("period_start", flat=True)
    )
    return [Period(start) for start in starts]


def roi_report_get(*, customer: Customer, period: Period) -> RoiReport | None:
    return RoiReport.objects.filter(customer=customer, period_start=period.start).first()


def roi_history(*, customer: Customer, until: Period | None = None, periods: int = 12) -> list[RoiReport]:
    """Up to `periods` reports ending with `until` (default: the latest), oldest first."""
    reports = RoiReport.objects.filter(customer=customer).order_by("-period_start")
    if until is not None:
        reports = reports.filter(period_start__lte=until.start)
    return list(reversed(reports[:periods]))


def outcome_type_names(*, organization: Organization) -> dict[str, str]:
    return dict(OutcomeType.objects.filter(organization=organization).values_list("code", "name"))


def billing_run_list(*, organization: Organization) -> QuerySet[BillingRun]:
    return (
        BillingRun.objects.filter(organization=organization)
        .select_related("customer")
        .order_by("-created_at", "-pk")
    )


def billing_run_for_page(*, organization: Organization, run_id: int) -> BillingRun:
    run = billing_run_list(organization=organization).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No billing run {run_id}.", field="id")
    return run


def invoice_cost_total(*, invoice: Invoice) -> tuple[object, str | None]:
    """The invoice's summed cost to serve and its currency (None when its lines mix currencies)."""
    rows = list(
        InvoiceLine.objects.filter(invoice=invoice, cost__isnull=False)
        .values("cost_currency")
        .annotate(total=Sum("cost"))
        .values_list("cost_currency", "total")
    )
    if len(rows) != 1:
        return None, None
    currency, total = rows[0]
    return total, currency or invoice.currency


# --- Invoice page: sections, credit notes, what a credit note may still credit ------------------

# The invoice page shows its lines in three sections: the period's own charges, each prior period's
# late lines and credits (oldest first), then the invoice-wide lines (fees, commit true-up, prepaid).
SECTION_PERIOD, SECTION_PRIOR, SECTION_INVOICE = 0, 1, 2
INVOICE_WIDE_KINDS = [
    InvoiceLine.Kind.MINIMUM_COMMIT,
    InvoiceLine.Kind.PLATFORM_FEE,
    InvoiceLine.Kind.PREPAID,
]


def invoice_lines_by_section(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    """The invoice's lines ordered by section, then by position; each carries `section`."""
    return (
        invoice_lines(invoice=invoice)
        .select_related("credited_line__invoice")
        .annotate(
            section=Case(
                When(kind__in=INVOICE_WIDE_KINDS, then=Value(SECTION_INVOICE)),
                When(service_period_start__lt=invoice.period_start, then=Value(SECTION_PRIOR)),
                default=Value(SECTION_PERIOD),
                output_field=IntegerField(),
            )
        )
        .order_by("section", "service_period_start", "position", "pk")
    )


def invoice_credit_notes(*, invoice: Invoice) -> list[CreditNote]:
    """The invoice's credit notes, oldest first, with their lines (two queries however many)."""
    return list(
        CreditNote.objects.filter(invoice=invoice, organization_id=invoice.organization_id)
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=CreditNoteLine.objects.select_related("invoice_line").order_by("pk"),
            )
        )
        .order_by("created_at", "pk")
    )


def creditable_lines(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    """Charged lines a credit note may still credit: a positive amount, not already credited by an
    earlier credit note or by a reversal credit on a later invoice, and, for an outcome, still billed."""
    return (
        invoice_lines(invoice=invoice)
        .filter(amount__gt=0)
        .exclude(Exists(CreditNoteLine.objects.filter(invoice_line=OuterRef("pk"))))
        .exclude(Exists(InvoiceLine.objects.filter(credited_line=OuterRef("pk"))))
        .filter(Q(outcome_event__isnull=True) | Q(outcome_event__status=OutcomeEvent.Status.BILLED))
    )


# --- Disputes -------------------------------------------------------------------------------------


def dispute_search(
    *, organization: Organization, customer: Customer | None = None, open_: bool
) -> QuerySet[Dispute]:
    """Open disputes oldest first (the queue), or resolved ones newest first; each with the invoice of
    its outcome's period, for a link to the task page."""
    disputes = Dispute.objects.filter(organization=organization)
    if customer is not None:
        disputes = disputes.filter(outcome_event__customer=customer)
    if open_:
        disputes = disputes.filter(status=Dispute.Status.OPEN).order_by("opened_at", "pk")
    else:
        disputes = disputes.exclude(status=Dispute.Status.OPEN).order_by("-resolved_at", "-pk")
    period_invoice = Invoice.objects.filter(
        organization=organization,
        customer_id=OuterRef("outcome_event__customer_id"),
        period_start__lte=OuterRef("outcome_event__timestamp"),
        period_end__gt=OuterRef("outcome_event__timestamp"),
    )
    return disputes.select_related(
        "outcome_event__customer", "outcome_event__outcome_type", "opened_by", "resolved_by"
    ).annotate(invoice_id=Subquery(period_invoice.values("pk")[:1]))


# --- A customer's account: price book, wallet, alerts ---------------------------------------------

# Spend-cap alerts are few (three per period at most); a year of them fits on a page.
NOTIFICATION_LIMIT = 36


def price_book_versions(*, customer: Customer) -> list[PriceBook]:
    """Every version of the customer's price book, newest first, with entries and meter prices.
    A customer has a handful of versions: the page picks the one in force from this one read."""
    return list(
        PriceBook.objects.filter(customer=customer, organization_id=customer.organization_id)
        .prefetch_related(
            Prefetch(
                "entries",
                queryset=PriceBookEntry.objects.select_related("outcome_type").order_by(
                    "outcome_type__name", "pk"
                ),
            ),
            Prefetch(
                "meter_prices",
                queryset=PriceBookMeter.objects.select_related("meter").order_by("meter__code", "pk"),
            ),
        )
        .order_by("-effective_from")
    )


def customer_notifications(*, customer: Customer) -> list[Notification]:
    return list(
        Notification.objects.filter(customer=customer, organization_id=customer.organization_id).order_by(
            "-created_at", "-pk"
        )[:NOTIFICATION_LIMIT]
    )
