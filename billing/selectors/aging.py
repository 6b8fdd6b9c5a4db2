"""Payment status and aging: what is open, what is overdue, and for how long. One definition each.

- open: a finalized invoice with something still due (amount due = total − amount paid > 0). Drafts
  are not owed yet; paid and void invoices owe nothing.
- overdue: open and past its due date (the due date itself is not overdue), as of `today` (UTC).
- aging bucket: by days past due: current (not yet due), 1–30, 31–60, 61–90, 90+.

The invoice lists (portal, both audiences), the API's `overdue` filter, the aging page and its CSV
and the vendor dashboard all read these functions, so the same invoice is overdue everywhere.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F, Q, QuerySet

from accounts.models import Customer, Organization
from billing.models import Invoice

ZERO = Decimal(0)

# (key, label, lowest days past due, highest days past due or None); "current" is not yet due.
BUCKETS: tuple[tuple[str, str, int, int | None], ...] = (
    ("current", "Current", -(10**6), 0),
    ("d1_30", "1–30 days", 1, 30),
    ("d31_60", "31–60 days", 31, 60),
    ("d61_90", "61–90 days", 61, 90),
    ("d90_plus", "90+ days", 91, None),
)
BUCKET_KEYS = tuple(key for key, *_ in BUCKETS)
BUCKET_LABELS = {key: label for key, label, *_ in BUCKETS}


def invoice_open_q() -> Q:
    """Finalized with something still due."""
    return Q(status=Invoice.Status.FINALIZED) & Q(total__gt=F("amount_paid"))


def invoice_overdue_q(today: date) -> Q:
    """Open and past its due date as of `today`: the one overdue predicate (pages, API, dashboard), the
    query form of `Invoice.is_overdue(today)` (a test holds the two together)."""
    return invoice_open_q() & Q(due_date__lt=today)


def days_past_due(invoice: Invoice, *, today: date) -> int:
    return (today - invoice.due_date).days if invoice.due_date is not None else 0


def bucket_of(days: int) -> str:
    for key, _, low, high in BUCKETS:
        if days >= low and (high is None or days <= high):
            return key
    return BUCKETS[-1][0]  # pragma: no cover - the last bucket has no upper bound


@dataclass
class AgingRow:
    """One customer's open invoices in one currency, summed per bucket (exact; rounded on display)."""

    customer: Customer
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKET_KEYS, ZERO))
    invoices: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.total - self.buckets["current"]


@dataclass
class Aging:
    today: date
    rows: list[AgingRow]
    # Per currency: bucket -> amount; amounts of different currencies are never added together.
    totals: dict[str, dict[str, Decimal]]

    def total_of(self, currency: str) -> Decimal:
        return sum(self.totals.get(currency, {}).values(), ZERO)

    def overdue_of(self, currency: str) -> Decimal:
        return self.total_of(currency) - self.totals.get(currency, {}).get("current", ZERO)


def open_invoice_list(
    *, organization: Organization, customer: Customer | None = None
) -> QuerySet[Invoice]:
    invoices = Invoice.objects.filter(invoice_open_q(), organization=organization)
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    return invoices.select_related("customer").order_by("due_date", "pk")


def aging_report(*, organization: Organization, today: date, customer: Customer | None = None) -> Aging:
    """Open receivables by customer, currency and bucket as of `today`: one query however many invoices."""
    rows: dict[tuple[int, str], AgingRow] = {}
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(BUCKET_KEYS, ZERO))
    for invoice in open_invoice_list(organization=organization, customer=customer):
        due = invoice.total - invoice.amount_paid
        bucket = bucket_of(days_past_due(invoice, today=today))
        row = rows.get((invoice.customer_id, invoice.currency))
        if row is None:
            row = rows[(invoice.customer_id, invoice.currency)] = AgingRow(invoice.customer, invoice.currency)
        row.buckets[bucket] += due
        row.invoices += 1
        totals[invoice.currency][bucket] += due
    ordered = sorted(rows.values(), key=lambda row: (-row.overdue, row.customer.name, row.currency))
    return Aging(today=today, rows=ordered, totals=dict(totals))
