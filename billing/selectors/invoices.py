"""Invoices: lists and period pickers, one invoice and its lines (by section for the page), credit
notes and what they may still credit, drafts due to be finalized."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import overload

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import Customer, Organization
from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceLineGroup
from core.errors import NotFound
from core.periods import Period
from outcomes.enums import OutcomeStatus


def invoice_list(
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


def invoice_period_list(*, organization: Organization, customer: Customer | None = None) -> list[Period]:
    """The periods that have an invoice, newest first (for period pickers)."""
    invoices = Invoice.objects.filter(organization=organization)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    starts = invoices.order_by("-period_start").values_list("period_start", flat=True).distinct()
    return [Period(start) for start in starts]


def invoice_get(
    *, organization: Organization, invoice_id: int, customer: Customer | None = None, with_lines: bool = False
) -> Invoice:
    """One invoice of the organization (of `customer`, for a customer's user or key). `with_lines`
    prefetches every line with its outcome type and event, for an answer that shows them all; pages
    read their lines a page at a time instead."""
    invoices = Invoice.objects.filter(organization=organization, pk=invoice_id)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    invoices = invoices.select_related("customer", "price_book")
    if with_lines:
        # The events by their key (organization_id, id): a prefetch by id alone would read the whole table.
        events = InvoiceLine._meta.get_field("outcome_event").related_model._default_manager.filter(
            organization=organization)
        invoices = invoices.prefetch_related("lines__outcome_type", Prefetch("lines__outcome_event", queryset=events))
    invoice = invoices.first()
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.", field="id")
    return invoice


def invoice_due_list(*, organization: Organization, now: datetime) -> QuerySet[Invoice]:
    """Drafts whose period ended more than the organization's grace days before `now`, oldest first."""
    last_due = (now - timedelta(days=organization.invoice_grace_days)).date()
    return Invoice.objects.filter(
        organization=organization, status=Invoice.Status.DRAFT, period_end__lte=last_due
    ).order_by("period_start", "customer_id", "pk")


def invoice_line_list(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    return (
        InvoiceLine.objects.filter(invoice=invoice, organization_id=invoice.organization_id)
        .select_related("outcome_type", "outcome_event")
        .order_by("position", "pk")
    )


def invoice_line_get(*, invoice: Invoice, line_id: int) -> InvoiceLine:
    line = invoice_line_list(invoice=invoice).filter(pk=line_id).first()
    if line is None:
        raise NotFound(f"No line {line_id} on this invoice.", field="line")
    return line


# The invoice page shows its lines in three sections: the period's own charges, each prior period's
# late lines and credits (oldest first), then the invoice-wide lines (fees, commit true-up, prepaid).
SECTION_PERIOD, SECTION_PRIOR, SECTION_INVOICE = 0, 1, 2
INVOICE_WIDE_KINDS = [InvoiceLine.Kind.MINIMUM_COMMIT, InvoiceLine.Kind.PLATFORM_FEE, InvoiceLine.Kind.PREPAID]


def invoice_line_list_by_section(*, invoice: Invoice) -> "SectionedLines":
    """The invoice's lines ordered by section, then by service period and position; each carries
    `section`. Sliced a page at a time without sorting the whole invoice (see SectionedLines)."""
    return SectionedLines(invoice)


class SectionedLines(Sequence[InvoiceLine]):
    """An invoice's lines in the page's order, for a paginator: its length comes from the stored line
    groups (InvoiceLineGroup) and a slice reads only the lines it returns. Each section and service
    period is one run of lines; the groups give each run's count and the range of positions it spans,
    so a slice is an index range scan of (invoice, position) per run it touches, never a sort of a
    million lines or a COUNT over them."""

    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice
        runs: dict[tuple[int, date], list[int]] = {}
        groups = InvoiceLineGroup.objects.filter(invoice=invoice, organization_id=invoice.organization_id)
        for kind, start, count, first, last in groups.values_list(
                "kind", "service_period_start", "line_count", "first_position", "last_position"):
            run = runs.setdefault((_section(kind, start, invoice), start), [0, first, last])
            run[0] += count
            run[1], run[2] = min(run[1], first), max(run[2], last)
        # (section, service period start, lines, first position, last position), in the page's order
        self.runs: list[tuple[int, date, int, int, int]] = sorted(
            (section, start, count, first, last) for (section, start), (count, first, last) in runs.items()
        )

    def __len__(self) -> int:
        return sum(run[2] for run in self.runs)

    @overload
    def __getitem__(self, index: int) -> InvoiceLine: ...

    @overload
    def __getitem__(self, index: slice) -> list[InvoiceLine]: ...

    def __getitem__(self, index: int | slice) -> InvoiceLine | list[InvoiceLine]:
        if isinstance(index, int):
            return self[index:index + 1][0]
        start, stop, _step = index.indices(len(self))
        # One statement: the ids of each run's share of the slice (an index range scan each), and the
        # lines of those ids with what the page shows of them, sorted as the page sorts (a page's worth).
        picks, params = [], []
        offset = 0
        for section, period_start, count, first, last in self.runs:
            skip, end = max(start - offset, 0), min(stop - offset, count)
            offset += count
            if end <= skip:
                continue
            wide = "" if section == SECTION_INVOICE else "NOT "
            picks.append(
                f"(SELECT id FROM {InvoiceLine._meta.db_table} WHERE invoice_id = %s AND position BETWEEN %s AND %s"
                f" AND service_period_start = %s AND {wide}kind = ANY(%s) ORDER BY position LIMIT %s OFFSET %s)"
            )
            params += [self.invoice.pk, first, last, period_start, list(INVOICE_WIDE_KINDS), end - skip, skip]
        if not picks:
            return []
        ids = RawSQL(" UNION ALL ".join(picks), params)  # noqa: S611 - our own SQL; values are parameters
        lines = list(invoice_line_list(invoice=self.invoice).select_related("credited_line__invoice")
                     .filter(pk__in=ids))
        for line in lines:  # a page's worth: labelled and sorted here, by the one section rule
            line.section = _section(line.kind, line.service_period_start, self.invoice)  # type: ignore[attr-defined]
        return sorted(lines, key=lambda line: (line.section, line.service_period_start, line.position, line.pk))  # type: ignore[attr-defined]


def _section(kind: str, service_period_start: date, invoice: Invoice) -> int:
    if kind in INVOICE_WIDE_KINDS:
        return SECTION_INVOICE
    return SECTION_PRIOR if service_period_start < invoice.period_start else SECTION_PERIOD


def invoice_line_creditable_list(*, invoice: Invoice) -> QuerySet[InvoiceLine]:
    """Charged lines a credit note may still credit: a positive amount, not already credited by an
    earlier credit note or by a reversal credit on a later invoice, and, for an outcome, still billed."""
    return (
        invoice_line_list(invoice=invoice)
        .filter(amount__gt=0)
        .exclude(Exists(CreditNoteLine.objects.filter(invoice_line=OuterRef("pk"))))
        .exclude(Exists(InvoiceLine.objects.filter(credited_line=OuterRef("pk"))))
        .filter(Q(outcome_event__isnull=True) | Q(outcome_event__status=OutcomeStatus.BILLED))
    )


def credit_note_list(
    *, organization_id: int, customer: Customer | None = None, invoice: Invoice | None = None
) -> QuerySet[CreditNote]:
    """Credit notes, oldest first, each with its lines (two queries however many)."""
    notes = CreditNote.objects.filter(organization_id=organization_id)
    if customer is not None:
        notes = notes.filter(customer=customer)
    if invoice is not None:
        notes = notes.filter(invoice=invoice)
    return (
        notes.select_related("customer", "invoice")
        .prefetch_related(
            Prefetch("lines", queryset=CreditNoteLine.objects.select_related("invoice_line").order_by("pk"))
        )
        .order_by("created_at", "pk")
    )
