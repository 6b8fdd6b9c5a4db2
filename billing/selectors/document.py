"""The invoice as a document: its summary lines, parties, dates, tax and amount due, one source for the
web page, the PDF, the API and the CSV summary.

The summary is read from the invoice's line groups, summed by the database as the lines were written
(InvoiceLineGroup, billing migration 0012): one line per outcome type of the period with its price
tiers ("973 × Support ticket resolved, 800 at 0.99 then 173 at 0.79"), the included outcomes, usage
overage per meter, the minimum-commit true-up, the platform fee, prior-period adjustments and
credits, and the prepaid drawdown. The summary's amounts are sums of the lines' (already rounded) amounts, so they add
up to the lines exactly; nothing is rounded here.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import F, QuerySet

from accounts.models import BillingProfile, Customer, Organization
from billing.audience import Audience
from billing.models import Invoice, InvoiceLine, InvoiceLineGroup, InvoicePayment, InvoiceTax, TaxRate
from core.errors import NotFound
from core.money import minor_unit, round_money

ZERO = Decimal(0)


class SummaryKind:
    OUTCOME = "outcome"
    INCLUDED = "included"
    USAGE_OVERAGE = "usage_overage"
    MINIMUM_COMMIT = "minimum_commit"
    PLATFORM_FEE = "platform_fee"
    PRIOR_PERIOD = "prior_period"
    CREDIT = "credit"
    PREPAID = "prepaid_credit"


# Order of the summary's sections (a line's place within a section is its first line's position).
_SECTION_ORDER = [
    SummaryKind.OUTCOME, SummaryKind.INCLUDED, SummaryKind.USAGE_OVERAGE, SummaryKind.MINIMUM_COMMIT,
    SummaryKind.PLATFORM_FEE, SummaryKind.PRIOR_PERIOD, SummaryKind.CREDIT, SummaryKind.PREPAID,
]


@dataclass(frozen=True)
class SummaryTier:
    """Some outcomes of one type priced alike: "800 at 0.99"."""

    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    note: str = ""


@dataclass(frozen=True)
class SummaryLine:
    description: str
    quantity: Decimal | None
    unit_price: Decimal | None  # None when the line spans several prices (its tiers say which)
    amount: Decimal
    currency: str
    kind: str = SummaryKind.OUTCOME
    tiers: tuple[SummaryTier, ...] = ()

    @property
    def label(self) -> str:
        """The line as a person reads it: "973 × Support ticket resolved, 800 at 0.99 then 173 at 0.79"."""
        if self.quantity is None or self.kind not in (SummaryKind.OUTCOME, SummaryKind.INCLUDED,
                                                      SummaryKind.PRIOR_PERIOD, SummaryKind.CREDIT):
            return self.description
        return f"{quantity_text(self.quantity)} × {self.description}"


def price_text(amount: Decimal, currency: str) -> str:
    """A unit price with at least its currency's minor units and no trailing zeros beyond them:
    3.5 USD → "3.50", 0.0025 → "0.0025", 250 → "250.00"."""
    places = minor_unit(currency)
    exponent = amount.normalize().as_tuple().exponent
    shown = max(places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{amount:,.{shown}f}"


def money_text(amount: Decimal, currency: str) -> str:
    """An amount with exactly its currency's minor units and the code: "1,250.00 USD"."""
    return f"{amount:,.{minor_unit(currency)}f} {currency}"


def quantity_text(quantity: Decimal) -> str:
    return f"{quantity.normalize():,f}"


def invoice_summary(invoice: Invoice) -> list[SummaryLine]:
    """The invoice's summary lines; their amounts add up to its lines' amounts (the total before tax)."""
    currency = invoice.currency
    # The lines' groups, summed as the lines were written (InvoiceLineGroup): a million-line invoice is
    # a handful of rows here.
    rows: list[dict[str, Any]] = [dict(row) for row in (
        InvoiceLineGroup.objects.filter(invoice=invoice, organization_id=invoice.organization_id)
        .values("kind", "service_period_start", "outcome_type_id", "outcome_type__name", "meter_id", "tier",
                "unit_price", "quantity", "amount", "description", count=F("line_count"), first=F("first_position"))
        .order_by("first_position")
    )]
    if not rows:
        return []
    names = {row["outcome_type_id"]: row["outcome_type__name"] for row in rows if row["outcome_type_id"]}
    # (section, first position, key) → the rows of one summary line
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    firsts: dict[tuple[str, Any], int] = {}
    for row in rows:
        kind, period = row["kind"], row["service_period_start"]
        prior = period < invoice.period_start
        if kind == InvoiceLine.Kind.OUTCOME and row["tier"] == "included":
            key: tuple[str, Any] = (SummaryKind.INCLUDED, period)
        elif kind == InvoiceLine.Kind.OUTCOME:
            key = (SummaryKind.PRIOR_PERIOD if prior else SummaryKind.OUTCOME, (period, row["outcome_type_id"]))
        elif kind == InvoiceLine.Kind.CREDIT:
            key = (SummaryKind.CREDIT, (period, row["outcome_type_id"]))
        elif kind == InvoiceLine.Kind.USAGE_OVERAGE:
            section = SummaryKind.PRIOR_PERIOD if prior else SummaryKind.USAGE_OVERAGE
            key = (section, (period, row["meter_id"], row["first"]))
        else:  # platform fee, minimum commit, prepaid: one line each
            key = (str(kind), row["first"])
        groups[key].append(row)
        firsts.setdefault(key, row["first"])
    ordered = sorted(groups, key=lambda k: (_SECTION_ORDER.index(k[0]), firsts[k]))
    return [_summary_line(section, key, groups[(section, key)], invoice, names, currency) for section, key in ordered]


def _summary_line(section: str, key: Any, rows: list[dict[str, Any]], invoice: Invoice, names: dict[int, str],
                  currency: str) -> SummaryLine:
    amount = sum((row["amount"] for row in rows), ZERO)
    count = sum((Decimal(row["count"]) for row in rows), ZERO)
    if section == SummaryKind.INCLUDED:
        by_type: dict[str, int] = defaultdict(int)
        for row in rows:
            by_type[names.get(row["outcome_type_id"], "outcome")] += row["count"]
        parts = ", ".join(f"{name} {n:,}" for name, n in by_type.items())
        period = _period_prefix(key, invoice)
        return SummaryLine(f"{period}Included outcomes: {parts}", count, ZERO, amount, currency,
                           SummaryKind.INCLUDED)
    if section in (SummaryKind.OUTCOME, SummaryKind.PRIOR_PERIOD) and rows[0]["kind"] == InvoiceLine.Kind.OUTCOME:
        period, type_id = key
        tiers = tuple(
            SummaryTier(Decimal(row["count"]), row["unit_price"], row["amount"], row["tier"]) for row in rows
        )
        name = names.get(type_id, "Outcome")
        prefix = _period_prefix(period, invoice)
        description = f"{prefix}{name}{_tiers_text(tiers, currency)}"
        single = tiers[0].unit_price if len({t.unit_price for t in tiers}) == 1 else None
        return SummaryLine(description, count, single, amount, currency, section, tiers)
    if section == SummaryKind.CREDIT:
        period, type_id = key
        name = names.get(type_id, "outcome") if type_id else "line"
        description = f"Credit: {name} reversed after invoicing ({_period_label(period)})"
        return SummaryLine(description, count, None, amount, currency, SummaryKind.CREDIT)
    row = rows[0]
    quantity = row["quantity"] if section in (SummaryKind.USAGE_OVERAGE, SummaryKind.PRIOR_PERIOD) else None
    unit_price = row["unit_price"] if quantity is not None else None
    return SummaryLine(row["description"], quantity, unit_price, amount, currency, section)


def _period_label(period: date) -> str:
    return period.strftime("%Y-%m")


def _period_prefix(period: date, invoice: Invoice) -> str:
    return "" if period >= invoice.period_start else f"Prior period {_period_label(period)} · "


def _tiers_text(tiers: tuple[SummaryTier, ...], currency: str) -> str:
    """", 800 at 0.99 then 173 at 0.79"; nothing for a single flat price."""
    if len(tiers) == 1 and not tiers[0].note:
        return f" at {price_text(tiers[0].unit_price, currency)}"
    parts = []
    for tier in tiers:
        text = f"{quantity_text(tier.quantity)} at {price_text(tier.unit_price, currency)}"
        if tier.note.startswith("volume tier"):
            text = f"all {quantity_text(tier.quantity)} at {price_text(tier.unit_price, currency)} ({tier.note})"
        elif tier.note == "package":
            text = f"{quantity_text(tier.quantity)} in packages at {price_text(tier.unit_price, currency)} each"
        elif tier.note and not tier.note.startswith("tier "):
            text += f" ({tier.note})"
        # Each line is rounded on its own: a tier's amount is its count times the rounded price, plus the
        # tier's flat fee when it has one (riding on its first outcome).
        if "tier" in tier.note and tier.amount != tier.quantity * round_money(tier.unit_price, currency):
            text += " incl. flat fee"
        parts.append(text)
    return ", " + " then ".join(parts)


# ---- the document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    address: list[str] = field(default_factory=list)
    tax_id: str = ""
    email: str = ""
    country: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": list(self.address), "tax_id": self.tax_id, "email": self.email,
                "country": self.country}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Party":
        return cls(name=str(data.get("name", "")), address=[str(a) for a in data.get("address", [])],
                   tax_id=str(data.get("tax_id", "")), email=str(data.get("email", "")),
                   country=str(data.get("country", "")))


@dataclass(frozen=True)
class TaxLine:
    name: str
    jurisdiction: str
    rate: Decimal
    inclusive: bool
    taxable_amount: Decimal
    amount: Decimal

    @property
    def label(self) -> str:
        where = f" ({self.jurisdiction})" if self.jurisdiction else ""
        included = ", included in prices" if self.inclusive else ""
        return f"{self.name} {self.rate.normalize():f}%{where}{included}"


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    number: str
    status: str
    currency: str
    period: str
    issue_date: date | None
    due_date: date | None
    bill_from: Party
    bill_to: Party
    summary: list[SummaryLine]
    subtotal: Decimal
    prepaid: Decimal
    taxes: list[TaxLine]
    tax_total: Decimal
    tax_note: str
    total: Decimal
    amount_paid: Decimal
    amount_due: Decimal
    overdue: bool
    payment_terms_days: int
    memo: str
    footer: str
    payment_instructions: str
    payment_url: str
    payments: list[InvoicePayment]
    has_logo: bool
    logo_url: str


def billing_profile_of(organization: Organization) -> BillingProfile:
    """The organization's billing profile, an unsaved default when it has none yet."""
    profile = BillingProfile.objects.filter(organization=organization).first()
    return profile or BillingProfile(organization=organization)


def payment_terms_days(*, profile: BillingProfile, customer: Customer) -> int:
    return customer.payment_terms_days if customer.payment_terms_days is not None else profile.payment_terms_days


def seller_party(*, organization: Organization, profile: BillingProfile) -> Party:
    return Party(name=profile.legal_name or organization.name, address=profile.address_lines, tax_id=profile.tax_id,
                 email=profile.email, country=profile.country)


def buyer_party(*, customer: Customer) -> Party:
    return Party(name=customer.billing_name or customer.name, address=customer.address_lines,
                 tax_id=customer.tax_id, email=customer.billing_email or customer.email, country=customer.country)


def invoice_taxes(invoice: Invoice) -> list[TaxLine]:
    return [
        TaxLine(t.name, t.jurisdiction, t.rate, t.inclusive, t.taxable_amount, t.amount)
        for t in InvoiceTax.objects.filter(invoice=invoice).order_by("position")
    ]


def invoice_document(invoice: Invoice, *, audience: Audience, today: date | None = None) -> InvoiceDocument:
    """Everything printed on the invoice. A finalized invoice prints its parties as they were when it was
    issued. The document holds no cost or margin, so it is the same for both audiences; `audience` is
    taken so that a vendor-only figure added later is decided here, by billing.audience. Three queries:
    the billing profile, the summary's groups and the taxes (the payments only when something was paid)."""
    from django.utils import timezone

    today = today or timezone.now().date()
    organization = invoice.organization
    customer = invoice.customer
    profile = billing_profile_of(organization)
    bill_from = Party.from_dict(invoice.bill_from) if invoice.bill_from else seller_party(
        organization=organization, profile=profile)
    bill_to = Party.from_dict(invoice.bill_to) if invoice.bill_to else buyer_party(customer=customer)
    summary = invoice_summary(invoice)
    prepaid = -sum((line.amount for line in summary if line.kind == SummaryKind.PREPAID), ZERO)
    return InvoiceDocument(
        invoice=invoice,
        number=invoice.number or "DRAFT",
        status=invoice.status,
        currency=invoice.currency,
        period=invoice.period,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        bill_from=bill_from,
        bill_to=bill_to,
        summary=summary,
        subtotal=invoice.subtotal,
        prepaid=prepaid,
        taxes=invoice_taxes(invoice),
        tax_total=invoice.tax_total,
        tax_note=invoice.tax_note,
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_due=invoice.amount_due,
        overdue=invoice.is_overdue(today),
        payment_terms_days=payment_terms_days(profile=profile, customer=customer),
        memo=profile.memo,
        footer=profile.footer,
        payment_instructions=profile.payment_instructions,
        payment_url=invoice.payment_url,
        # Every payment adds to amount_paid: with nothing paid there is nothing to read.
        payments=list(InvoicePayment.objects.filter(invoice=invoice).order_by("paid_at", "pk"))
        if invoice.amount_paid else [],
        has_logo=bool(profile.logo),
        logo_url=profile.logo_url,
    )


def tax_rate_list(*, organization: Organization) -> QuerySet[TaxRate]:
    return TaxRate.objects.filter(organization=organization).order_by("-active", "country", "region", "name", "pk")


def tax_rate_get(*, organization: Organization, tax_rate_id: int) -> TaxRate:
    rate = TaxRate.objects.filter(organization=organization, pk=tax_rate_id).first()
    if rate is None:
        raise NotFound(f"No tax rate {tax_rate_id}.", field="id")
    return rate


def customer_assigned_tax_rates(*, customer: Customer) -> list[TaxRate]:
    return list(TaxRate.objects.filter(assignments__customer=customer).order_by("pk"))

