"""What arrived after a period's invoice was frozen: late outcomes, late usage, reversals to credit."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Sum

from billing.models import CreditNoteLine, Invoice, InvoiceLine
from billing.pricing import PeriodCharges
from core.periods import Period
from outcomes.enums import OutcomeStatus
from outcomes.selectors import BillableOutcome, billable_outcomes

ZERO = Decimal(0)
CHARGED_KINDS = [InvoiceLine.Kind.OUTCOME, InvoiceLine.Kind.USAGE_OVERAGE]


@dataclass(frozen=True)
class FrozenPeriod:
    period: Period
    invoice: Invoice


def frozen_periods(*, customer_id: int, before: Period) -> list[FrozenPeriod]:
    invoices = Invoice.objects.filter(customer_id=customer_id, period_start__lt=before.start).exclude(
        status=Invoice.Status.DRAFT
    ).select_related("price_book").order_by("period_start")
    return [FrozenPeriod(Period(invoice.period_start), invoice) for invoice in invoices]


def late_outcomes(*, organization_id: int, customer_id: int, periods: list[FrozenPeriod], cutoff: datetime
                  ) -> dict[Period, list[BillableOutcome]]:
    """Billable outcomes of frozen periods that no invoice has billed yet (verified or received late)."""
    if not periods:
        return {}
    wanted = {fp.period.start for fp in periods}
    outcomes = billable_outcomes(organization_id=organization_id, customer_id=customer_id,
                                 start=periods[0].period.start_at,
                                 end=periods[-1].period.end_at, cutoff=cutoff)
    grouped: dict[Period, list[BillableOutcome]] = defaultdict(list)
    for outcome in outcomes:
        assert outcome.timestamp is not None  # read with its timestamp (billable_outcomes' default)
        period = Period.of(outcome.timestamp)
        if period.start in wanted:
            grouped[period].append(outcome)
    return grouped


def period_charges_so_far(*, customer_id: int, period: Period, currency: str, included: int,
                          spend_cap: Decimal | None) -> PeriodCharges:
    """Pricing state of a frozen period as its frozen lines left it, so late outcomes continue its tiers."""
    lines = InvoiceLine.objects.filter(
        invoice__customer_id=customer_id, service_period_start=period.start, kind__in=CHARGED_KINDS
    ).exclude(invoice__status=Invoice.Status.DRAFT)
    charged = lines.aggregate(total=Sum("amount"))["total"] or ZERO
    outcome_lines = lines.filter(kind=InvoiceLine.Kind.OUTCOME)
    included_used = outcome_lines.filter(note="included").count()
    ranks = Counter(outcome_lines.exclude(note="included").values_list("outcome_type_id", flat=True))
    return PeriodCharges(currency=currency, included=included, spend_cap=spend_cap,
                         included_used=included_used, charged=charged, ranks=dict(ranks))


def usage_billed_so_far(*, customer_id: int, period: Period) -> dict[int, Decimal]:
    rows = (
        InvoiceLine.objects.filter(invoice__customer_id=customer_id, service_period_start=period.start,
                                   kind=InvoiceLine.Kind.USAGE_OVERAGE, meter__isnull=False)
        .exclude(invoice__status=Invoice.Status.DRAFT)
        .values("meter_id").annotate(total=Sum("usage_quantity")).values_list("meter_id", "total")
    )
    return {meter_id: total or ZERO for meter_id, total in rows}


def uncredited_reversals(*, customer_id: int) -> list[InvoiceLine]:
    """Frozen outcome lines whose outcome was reversed (or its dispute accepted) after billing and
    that no frozen credit line or credit note has credited yet."""
    lines = (
        InvoiceLine.objects.filter(
            invoice__customer_id=customer_id, kind=InvoiceLine.Kind.OUTCOME,
            outcome_event__status=OutcomeStatus.REVERSED,
            # The event joined by both columns of its key (outcomes 0006), which a line and its event share.
            outcome_event__organization_id=F("organization_id"),
        )
        .exclude(invoice__status=Invoice.Status.DRAFT)
        .exclude(invoice__status=Invoice.Status.VOID)
        .select_related("outcome_type", "invoice")
        .order_by("invoice__period_start", "position")
    )
    reversed_lines = list(lines)
    if not reversed_lines:  # the usual case: spare the two look-ups below
        return []
    ids = [line.pk for line in reversed_lines]
    credited = set(
        InvoiceLine.objects.filter(credited_line__in=ids).exclude(invoice__status=Invoice.Status.DRAFT)
        .values_list("credited_line_id", flat=True)
    )
    noted = set(CreditNoteLine.objects.filter(invoice_line__in=ids).values_list("invoice_line_id", flat=True))
    return [line for line in reversed_lines if line.pk not in credited and line.pk not in noted]
