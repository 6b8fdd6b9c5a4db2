"""Reconciliation: for one customer and period, join outcomes (value) and usage (cost) per task and
write the draft invoice and the ROI figures.

A function of the events and configuration as of a cutoff: the same cutoff gives the same invoice,
and a run replaces the draft in one transaction, so a crash mid-way leaves the previous draft whole.
Frozen (finalized, paid, void) invoices are never touched: what arrives late for their period lands
on the customer's earliest draft as prior-period lines.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Customer, Organization
from billing.models import Invoice, InvoiceLine, PriceBook, RoiReport
from billing.pricing import PeriodCharges, commit_true_up, prepaid_drawdown
from billing.selectors import late
from billing.selectors.account import outcome_prices, price_book_in_force, wallet_balances
from billing.services.credit_notes import credit_note_for_reversals
from billing.services.draft_stamp import draft_stamp, draft_stamp_store, draft_stamp_stored
from billing.services.notifications import spend_alerts_record
from billing.services.tax import invoice_tax_apply
from core.errors import DomainError
from core.money import round_money
from core.periods import Period
from metering.selectors import TaskCost, meters_by_id, task_costs
from metering.usage_totals import usage_totals
from outcomes.selectors import BillableOutcome, billable_outcomes, outcome_types_by_id
from rollups.selectors import task_costs_rolled, usage_totals_rolled

if TYPE_CHECKING:  # a type for annotations only: outcome types come from outcomes.selectors
    from outcomes.models import OutcomeType

ZERO = Decimal(0)


# Where reconciliation reads usage: the rollups (rollups.selectors, each read the rollups plus the events
# the job has not folded yet), or the raw events ("events": today's path, kept to check the rollups
# against: tests/rollups and verify_rollups). A rollup read that cannot answer as the raw events would
# (a rate card just reshaped, a cutoff older than an event folded in) falls back to the raw events.
ROLLUPS, EVENTS = "rollups", "events"


def _task_costs(*, customer: Customer, period: Period, cutoff: datetime, source: str) -> list[TaskCost]:
    if source == ROLLUPS:
        rolled = task_costs_rolled(organization_id=customer.organization_id, customer_id=customer.pk,
                                   period=period, cutoff=cutoff)
        if rolled is not None:
            return rolled
    return task_costs(organization_id=customer.organization_id, customer_id=customer.pk, start=period.start_at,
                      end=period.end_at, cutoff=cutoff)


def _usage_totals(*, customer: Customer, period: Period, cutoff: datetime, source: str) -> dict[int, Decimal]:
    if source == ROLLUPS:
        rolled = usage_totals_rolled(organization_id=customer.organization_id, customer_id=customer.pk,
                                     period=period, cutoff=cutoff)
        if rolled is not None:
            return rolled
    return usage_totals(customer_id=customer.pk, start=period.start_at, end=period.end_at, cutoff=cutoff)


@dataclass(frozen=True)
class CostIndex:
    by_task: dict[str | None, Decimal]
    currency: str
    total: Decimal


def _cost_index(costs: list[TaskCost], preferred_currency: str) -> CostIndex:
    """Costs in one currency: the invoice's if any rate used it, else the most used rate currency."""
    by_currency: dict[str, dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in costs:
        if row.currency is not None:
            by_currency[row.currency][row.task_id] += row.cost
    if not by_currency:
        return CostIndex({}, preferred_currency, ZERO)
    currency = preferred_currency if preferred_currency in by_currency else max(
        by_currency, key=lambda code: len(by_currency[code])
    )
    tasks = dict(by_currency[currency])
    return CostIndex(tasks, currency, sum(tasks.values(), ZERO))


@dataclass(slots=True)
class DraftLine:
    """An invoice line before it is written: the columns of billing_invoiceline, ids for foreign keys."""

    kind: str
    service_period_start: date
    description: str
    unit_price: Decimal
    amount: Decimal
    position: int = 0
    quantity: Decimal = Decimal(1)
    task_id: str | None = None
    outcome_type_id: int | None = None
    outcome_event_id: int | None = None
    cost: Decimal | None = None
    cost_currency: str = ""
    credited_line_id: int | None = None
    usage_quantity: Decimal | None = None
    meter_id: int | None = None
    note: str = ""


LINE_COLUMNS = (
    "organization_id", "invoice_id", "position", "kind", "task_id", "outcome_type_id", "outcome_event_id",
    "service_period_start", "description", "quantity", "unit_price", "amount", "cost", "cost_currency",
    "credited_line_id", "usage_quantity", "meter_id", "note",
)


class LineWriter:
    """Collects an invoice's lines in order, with positions, and writes them with one COPY.

    A customer's invoice has a line per outcome (thousands): COPY from plain tuples costs a fraction of
    building model instances for bulk_create. Values reach the numeric columns as Decimals either way,
    so PostgreSQL rounds them to the columns' scale exactly as it did for bulk_create.
    """

    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice
        self.lines: list[DraftLine] = []

    def add(self, **fields: object) -> DraftLine:
        line = DraftLine(position=len(self.lines) + 1, **fields)  # type: ignore[arg-type]
        self.lines.append(line)
        return line

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    def delete_previous(self) -> None:
        """Delete the draft's previous lines with a plain DELETE: draft lines are referenced by nothing
        (credits and credit notes point at frozen lines, and the foreign keys would refuse otherwise),
        so Django's collector, which loads every line to look for references, has nothing to find."""
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {InvoiceLine._meta.db_table} WHERE invoice_id = %s", [self.invoice.pk])

    def write(self) -> None:
        if not self.lines:
            return
        table = InvoiceLine._meta.db_table
        organization_id, invoice_id = self.invoice.organization_id, self.invoice.pk
        with connection.cursor() as cursor:
            # Check the lines' foreign keys as they arrive instead of queueing them to the commit (all
            # of this schema's deferrable constraints are Django's initially-deferred foreign keys, so
            # ALL DEFERRED afterwards restores them): measured on 1,000 lines, queued checks cost 54 ms
            # with the COPY, immediate ones 41 ms. A bad key still fails this transaction, only sooner.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with cursor.cursor.copy(f"COPY {table} ({', '.join(LINE_COLUMNS)}) FROM STDIN") as copy:
                for l in self.lines:  # noqa: E741
                    copy.write_row((
                        organization_id, invoice_id, l.position, l.kind, l.task_id, l.outcome_type_id,
                        l.outcome_event_id, l.service_period_start, l.description, l.quantity, l.unit_price,
                        l.amount, l.cost, l.cost_currency, l.credited_line_id, l.usage_quantity, l.meter_id,
                        l.note,
                    ))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _check_currency(types: dict[int, "OutcomeType"], outcomes: list[BillableOutcome], book: PriceBook | None,
                    currency: str, customer: Customer) -> None:
    priced_by_book = {entry.outcome_type_id for entry in book.entries.all()} if book else set()
    for type_id in {o.outcome_type_id for o in outcomes} - priced_by_book:
        if types[type_id].currency != currency:
            raise DomainError(
                f"Outcome type {types[type_id].code!r} is priced in {types[type_id].currency} but customer "
                f"{customer.external_id!r} is billed in {currency}; add it to the customer's price book.",
                field="currency",
            )


def outcome_lines(*, writer: LineWriter, outcomes: list[BillableOutcome], types: dict[int, "OutcomeType"],
                  book: PriceBook | None, charges: PeriodCharges, costs: CostIndex, period: Period,
                  prior: bool = False) -> Counter[str]:
    prices = outcome_prices(book=book, types=types)
    # Volume tiers need the period's count of charged outcomes per type (included ones are free).
    remaining_included = max(charges.included - charges.included_used, 0)
    counts: Counter[int] = Counter(o.outcome_type_id for o in outcomes[remaining_included:])
    for type_id, rank in charges.ranks.items():
        counts[type_id] += rank
    billed: Counter[str] = Counter()
    # A line per outcome, thousands per invoice: what is the same for all of them is looked up once and
    # lines are appended directly (what writer.add does, without its keyword packing).
    lines, kind, service_period_start = writer.lines, InvoiceLine.Kind.OUTCOME, period.start
    prefix = f"Prior period {period.label} · " if prior else ""
    cost_of, cost_currency, price_outcome = costs.by_task.get, costs.currency, charges.price_outcome
    for outcome in outcomes:
        type_id, task_id = outcome.outcome_type_id, outcome.task_id
        outcome_type = types[type_id]
        amount, unit_price, note = price_outcome(type_id, prices[type_id], counts[type_id], outcome.confirmed)
        label = f"{prefix}{outcome_type.name}: {task_id}"
        lines.append(DraftLine(
            kind=kind, task_id=task_id, outcome_type_id=outcome_type.pk, outcome_event_id=outcome.event_id,
            service_period_start=service_period_start, description=f"{label} ({note})" if note else label,
            unit_price=unit_price, amount=amount, cost=cost_of(task_id, ZERO), cost_currency=cost_currency,
            note=note, position=len(lines) + 1,
        ))
        billed[outcome_type.code] += 1
    return billed


def usage_lines(*, writer: LineWriter, book: PriceBook | None, totals: dict[int, Decimal],
                charges: PeriodCharges, period: Period, already_billed: dict[int, Decimal] | None = None) -> None:
    if book is None:
        return
    meters = meters_by_id(ids=[mp.meter_id for mp in book.meter_prices.all()])
    for meter_price in sorted(book.meter_prices.all(), key=lambda mp: meters[mp.meter_id].code):
        meter = meters[meter_price.meter_id]
        quantity = totals.get(meter.pk, ZERO)
        included = meter_price.included_quantity
        if already_billed is not None:  # a prior period: only what was not billed then
            billed_before = already_billed.get(meter.pk, ZERO)
            quantity = max(quantity - included, ZERO) - billed_before
            included = ZERO
            if quantity <= 0:
                continue
        billable, amount, capped = charges.price_usage(
            quantity=quantity, included=included, unit_price=meter_price.unit_price, per=meter_price.per
        )
        prefix = f"Prior period {period.label} · " if already_billed is not None else ""
        note = " (spend cap reached)" if capped else ""
        writer.add(
            kind=InvoiceLine.Kind.USAGE_OVERAGE, service_period_start=period.start, quantity=billable,
            usage_quantity=billable, unit_price=meter_price.unit_price / meter_price.per, amount=amount,
            meter_id=meter.pk, note="spend cap reached" if capped else "",
            description=f"{prefix}{meter.name} over {included.normalize():f} {meter.unit} included{note}",
        )


def reconcile_customer(*, customer_id: int, period: Period, cutoff: datetime | None = None,
                       finalizing: bool = False, source: str = ROLLUPS, reuse_current: bool = False) -> Invoice:
    """The customer's draft for `period` as of `cutoff`. `reuse_current` (billing runs): a draft whose
    stamp (billing.services.draft_stamp) is unchanged for this cutoff is returned as it is."""
    cutoff = cutoff or timezone.now()
    with transaction.atomic():
        # The customer row lock serialises runs for one customer: two at once yield one invoice.
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        # All of the customer's invoices in one read: this period's, whether an earlier draft exists
        # (late lines go on the earliest draft only) and whether any is frozen (else nothing is late).
        invoices = list(Invoice.objects.filter(customer=customer))
        invoice = next((i for i in invoices if i.period_start == period.start), None)
        if invoice is not None and invoice.is_frozen:
            return invoice
        if reuse_current and invoice is not None and not finalizing:
            stored = draft_stamp_stored(organization_id=customer.organization_id, invoice_id=invoice.pk)
            if stored is not None and stored == draft_stamp(organization_id=customer.organization_id,
                                                            customer_id=customer.pk, cutoff=cutoff):
                return invoice
        book = price_book_in_force(customer_id=customer.pk, period_start=period.start)
        currency = book.currency if book else customer.currency
        if invoice is None:
            invoice = Invoice(organization_id=customer.organization_id, customer=customer,
                              period_start=period.start, period_end=period.end)
        invoice.currency, invoice.price_book, invoice.cutoff = currency, book, cutoff
        invoice.save()
        writer = LineWriter(invoice)
        writer.delete_previous()
        types = outcome_types_by_id(organization_id=customer.organization_id)

        earliest_draft = not any(
            i.status == Invoice.Status.DRAFT and i.period_start < period.start for i in invoices
        )
        # Reversals to credit and late events need a frozen invoice: without one there is nothing to look up.
        if earliest_draft and any(i.is_frozen for i in invoices):
            _late_lines(customer=customer, writer=writer, types=types, before=period, cutoff=cutoff,
                        source=source)

        outcomes = billable_outcomes(organization_id=customer.organization_id, customer_id=customer.pk,
                                     start=period.start_at, end=period.end_at, cutoff=cutoff, timestamps=False)
        _check_currency(types, outcomes, book, currency, customer)
        costs = _cost_index(_task_costs(customer=customer, period=period, cutoff=cutoff, source=source), currency)
        charges = PeriodCharges(currency=currency, included=book.included_outcomes if book else 0,
                                spend_cap=book.spend_cap if book else None)
        billed = outcome_lines(writer=writer, outcomes=outcomes, types=types, book=book, charges=charges,
                               costs=costs, period=period)
        if book is not None and book.meter_prices.all():  # usage overage only: spare the second scan
            totals = _usage_totals(customer=customer, period=period, cutoff=cutoff, source=source)
            usage_lines(writer=writer, book=book, totals=totals, charges=charges, period=period)
        if book is not None and book.minimum_commit > 0:
            true_up = commit_true_up(minimum_commit=book.minimum_commit, charged=charges.charged, currency=currency)
            if true_up > 0:
                writer.add(kind=InvoiceLine.Kind.MINIMUM_COMMIT, service_period_start=period.start,
                           unit_price=true_up, amount=true_up,
                           description=f"Minimum commit true-up to {book.minimum_commit.normalize():f} {currency}")
        if book is not None and book.platform_fee > 0:
            writer.add(kind=InvoiceLine.Kind.PLATFORM_FEE, service_period_start=period.start,
                       unit_price=book.platform_fee, amount=round_money(book.platform_fee, currency),
                       description="Platform fee")
        subtotal = writer.total
        balances = wallet_balances(customer_id=customer.pk, currency=currency, at=cutoff, lock=finalizing)
        prepaid = sum(prepaid_drawdown(balances=[b.balance for b in balances], total=subtotal), ZERO)
        if prepaid > 0:
            writer.add(kind=InvoiceLine.Kind.PREPAID, service_period_start=period.start, unit_price=-prepaid,
                       amount=-prepaid, description="Prepaid credits applied")
        writer.write()
        invoice.subtotal, invoice.credits_applied, invoice.total = subtotal, prepaid, writer.total
        invoice.save(update_fields=["subtotal", "credits_applied", "total", "updated_at"])
        invoice_tax_apply(invoice=invoice, customer=customer)  # tax on the summary lines, stored per rate
        spend_alerts_record(customer=customer, period=period, book=book, charged=charges.charged)
        _roi_write(customer=customer, period=period, invoice=invoice, lines=writer.lines, billed=billed,
                   types=types, costs=costs, outcome_task_ids={o.task_id for o in outcomes}, cutoff=cutoff)
        if not finalizing:
            draft_stamp_store(organization_id=customer.organization_id, invoice_id=invoice.pk,
                              stamp=draft_stamp(organization_id=customer.organization_id, customer_id=customer.pk,
                                                cutoff=cutoff))
        return invoice


def _late_lines(*, customer: Customer, writer: LineWriter, types: dict[int, "OutcomeType"], before: Period,
                cutoff: datetime, source: str) -> None:
    """Prior-period lines on the customer's earliest draft: credits for reversals after billing, then
    late outcomes and late usage of each frozen period, priced by that period's book and state."""
    reversals = late.uncredited_reversals(customer_id=customer.pk)
    if not reversals:
        pass
    elif Organization.objects.get(pk=customer.organization_id).reversal_credit_mode == \
            Organization.ReversalCredit.CREDIT_NOTE:
        credit_note_for_reversals(customer=customer, lines=reversals)
    else:
        for line in reversals:
            if line.invoice.currency != writer.invoice.currency:
                continue  # a credit in another currency cannot sit on this invoice; issue a credit note
            writer.add(
                kind=InvoiceLine.Kind.CREDIT, task_id=line.task_id, outcome_type_id=line.outcome_type_id,
                outcome_event_id=line.outcome_event_id, service_period_start=line.service_period_start,
                description=f"Credit: reversed after invoice {line.invoice.number} · {line.description}",
                unit_price=-line.unit_price, amount=-line.amount, credited_line_id=line.pk, note="reversal credit",
            )
    frozen = late.frozen_periods(customer_id=customer.pk, before=before)
    outcomes_by_period = late.late_outcomes(organization_id=customer.organization_id, customer_id=customer.pk,
                                            periods=frozen, cutoff=cutoff)
    for frozen_period in frozen:
        period, book = frozen_period.period, frozen_period.invoice.price_book
        if book is not None and book.currency != writer.invoice.currency:
            continue
        charges = late.period_charges_so_far(
            customer_id=customer.pk, period=period, currency=writer.invoice.currency,
            included=book.included_outcomes if book else 0, spend_cap=book.spend_cap if book else None,
        )
        outcomes = outcomes_by_period.get(period, [])
        if outcomes:
            _check_currency(types, outcomes, book, writer.invoice.currency, customer)
            costs = _cost_index(_task_costs(customer=customer, period=period, cutoff=cutoff, source=source),
                                writer.invoice.currency)
            outcome_lines(writer=writer, outcomes=outcomes, types=types, book=book, charges=charges, costs=costs,
                          period=period, prior=True)
            # The late lines carry the period's costs as of now: its report's cost to serve follows, so the
            # cost of its billed tasks (read from the lines) stays a part of it.
            RoiReport.objects.filter(customer=customer, period_start=period.start).update(
                cost_to_serve=costs.total, cost_currency=costs.currency,
            )
        if book is not None and book.meter_prices.exists():
            totals = _usage_totals(customer=customer, period=period, cutoff=cutoff, source=source)
            usage_lines(writer=writer, book=book, totals=totals, charges=charges, period=period,
                        already_billed=late.usage_billed_so_far(customer_id=customer.pk, period=period))


def _roi_write(*, customer: Customer, period: Period, invoice: Invoice, lines: list[DraftLine],
               billed: Counter[str], types: dict[int, "OutcomeType"], costs: CostIndex, outcome_task_ids: set[str],
               cutoff: datetime) -> None:
    by_code = {t.code: t for t in types.values()}
    value = sum((by_code[code].value * count for code, count in billed.items()), ZERO)
    billed_amount = sum(
        (line.amount for line in lines
         if line.service_period_start == period.start and line.kind != InvoiceLine.Kind.PREPAID), ZERO
    )
    unbilled = {task: cost for task, cost in costs.by_task.items() if task not in outcome_task_ids}
    values = {
        "organization_id": customer.organization_id, "currency": invoice.currency, "outcomes": dict(billed),
        "value_delivered": value, "billed": billed_amount, "cost_to_serve": costs.total,
        "cost_currency": costs.currency, "unbilled_cost": sum(unbilled.values(), ZERO),
        "tasks": len(set(costs.by_task) | outcome_task_ids), "unbilled_tasks": len(unbilled),
        "computed_at": cutoff,
    }
    # update_or_create without its savepoint and row lock: the customer row lock held by the caller
    # already serialises writers of this report, so an UPDATE, and an INSERT when it found nothing, suffice.
    if not RoiReport.objects.filter(customer=customer, period_start=period.start).update(**values):
        RoiReport.objects.create(customer=customer, period_start=period.start, **values)


def customer_drafts_refresh(*, customer_id: int) -> list[Invoice]:
    """Reconcile the customer's open drafts now, oldest first (the current period's if it has none): a
    dispute accepted or an outcome reversed shows at once as a draft without its line or with its
    pending credit, instead of waiting for the next run. One customer's drafts are one or two."""
    starts = list(
        Invoice.objects.filter(customer_id=customer_id, status=Invoice.Status.DRAFT)
        .order_by("period_start").values_list("period_start", flat=True)
    )
    periods = [Period(start) for start in starts] or [Period.of(timezone.now())]
    return [reconcile_customer(customer_id=customer_id, period=period) for period in periods]

