"""Tax on an invoice: computed on its summary lines when a draft is reconciled (and so, last, when it is
finalized), stored per rate in InvoiceTax and frozen with the invoice.

Which rates apply (the built-in calculator, `RatesCalculator`):
- an exempt customer pays none, and the invoice says so (with its exemption reference);
- a reverse-charge customer pays none, and the invoice says the customer accounts for it;
- otherwise the active rates assigned to the customer, or, when none is assigned, the organization's
  active rates of the customer's country whose region is blank or the customer's region.

How much: each summary line's amount (prepaid drawdown included, so tax is on what is charged now)
times the rate, summed exactly per rate and rounded once per rate with core.money.round_money. An
exclusive rate adds its tax to the total; an inclusive rate's tax is already inside the prices and is
only shown (base × rate / (100 + the inclusive rates' sum)).

The calculator is replaceable: settings.TAX_CALCULATOR names a class implementing `TaxCalculator`
(Stripe Tax, in payments, may), whose result is stored the same way.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from accounts.models import Customer
from billing.models import CustomerTaxRate, Invoice, InvoiceTax, TaxRate
from billing.selectors.document import SummaryLine, invoice_summary
from core.errors import DomainError, InvalidState, NotFound
from core.money import round_money

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DEFAULT_CALCULATOR = "billing.services.tax.RatesCalculator"


@dataclass(frozen=True)
class TaxAmount:
    """One rate's tax on an invoice, rounded to the minor unit."""

    name: str
    rate: Decimal  # percent
    taxable_amount: Decimal
    amount: Decimal
    inclusive: bool = False
    jurisdiction: str = ""
    tax_rate_id: int | None = None


@dataclass(frozen=True)
class TaxResult:
    taxes: list[TaxAmount]
    note: str = ""  # printed with the tax: "Reverse charge: …", "Tax exempt: …"


class TaxCalculator(Protocol):
    def calculate(self, *, invoice: Invoice, customer: Customer, lines: Sequence[SummaryLine]) -> TaxResult: ...


def customer_tax_rates(*, customer: Customer) -> list[TaxRate]:
    """The rates a standard customer pays: its assigned rates, else those of its country and region."""
    assigned = list(
        TaxRate.objects.filter(
            pk__in=CustomerTaxRate.objects.filter(customer=customer).values("tax_rate_id"), active=True,
            organization_id=customer.organization_id,
        ).order_by("pk")
    )
    if assigned or CustomerTaxRate.objects.filter(customer=customer).exists():
        return assigned
    if not customer.country:
        return []
    return list(
        TaxRate.objects.filter(organization_id=customer.organization_id, active=True,
                               country__iexact=customer.country)
        .filter(Q(region="") | Q(region__iexact=customer.region))
        .order_by("pk")
    )


def taxes_on(*, lines: Sequence[SummaryLine], rates: Sequence[TaxRate], currency: str) -> list[TaxAmount]:
    """Each rate's tax on the lines: exact per line, summed, rounded once per rate."""
    inclusive_sum = sum((rate.percentage for rate in rates if rate.inclusive), ZERO)
    base = sum((line.amount for line in lines), ZERO)
    taxes = []
    for rate in rates:
        if rate.inclusive:
            exact = sum((line.amount * rate.percentage / (HUNDRED + inclusive_sum) for line in lines), ZERO)
            taxable = round_money(base * HUNDRED / (HUNDRED + inclusive_sum), currency)
        else:
            exact = sum((line.amount * rate.percentage / HUNDRED for line in lines), ZERO)
            taxable = base
        taxes.append(TaxAmount(name=rate.name, rate=rate.percentage, taxable_amount=taxable,
                               amount=round_money(exact, currency), inclusive=rate.inclusive,
                               jurisdiction=rate.jurisdiction, tax_rate_id=rate.pk))
    return taxes


class RatesCalculator:
    """The organization's own tax rates (see the module's docstring)."""

    def calculate(self, *, invoice: Invoice, customer: Customer, lines: Sequence[SummaryLine]) -> TaxResult:
        if customer.tax_status == Customer.TaxStatus.EXEMPT:
            reference = f" ({customer.tax_exemption_reference})" if customer.tax_exemption_reference else ""
            return TaxResult([], f"Tax exempt{reference}: no tax is charged on this invoice.")
        if customer.tax_status == Customer.TaxStatus.REVERSE_CHARGE:
            tax_id = f" (customer tax id {customer.tax_id})" if customer.tax_id else ""
            return TaxResult([], f"Reverse charge: the customer accounts for the tax{tax_id}.")
        rates = customer_tax_rates(customer=customer)
        return TaxResult(taxes_on(lines=lines, rates=rates, currency=invoice.currency))


def tax_calculator() -> TaxCalculator:
    calculator: TaxCalculator = import_string(getattr(settings, "TAX_CALCULATOR", DEFAULT_CALCULATOR))()
    return calculator


def invoice_tax_apply(*, invoice: Invoice, customer: Customer) -> Invoice:
    """Compute the draft's tax on its summary lines, store it per rate and add the exclusive tax to the
    total. Called by reconciliation after the lines are written, in its transaction; idempotent."""
    if invoice.is_frozen:
        raise InvalidState(f"Invoice {invoice.number} is {invoice.status}: its tax is frozen.", field="status")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_tax_apply runs inside the reconciliation's transaction")
    lines = invoice_summary(invoice)
    result = tax_calculator().calculate(invoice=invoice, customer=customer, lines=lines)
    InvoiceTax.objects.filter(invoice=invoice).delete()
    InvoiceTax.objects.bulk_create([
        InvoiceTax(organization_id=invoice.organization_id, invoice=invoice, position=position, name=tax.name,
                   jurisdiction=tax.jurisdiction, rate=tax.rate, inclusive=tax.inclusive,
                   taxable_amount=tax.taxable_amount, amount=tax.amount, tax_rate_id=tax.tax_rate_id)
        for position, tax in enumerate(result.taxes, 1)
    ])
    lines_total = sum((line.amount for line in lines), ZERO)
    invoice.tax_total = sum((tax.amount for tax in result.taxes), ZERO)
    invoice.tax_note = result.note
    invoice.total = lines_total + sum((tax.amount for tax in result.taxes if not tax.inclusive), ZERO)
    invoice.save(update_fields=["tax_total", "tax_note", "total", "updated_at"])
    return invoice


# ---- tax rates: the organization's configuration -----------------------------------------------------

RATE_FIELDS = ("name", "jurisdiction", "country", "region", "percentage", "inclusive", "active")


def _rate_clean(fields: dict[str, object]) -> dict[str, object]:
    from accounts.billing_details import country_clean

    unknown = set(fields) - set(RATE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown field {sorted(unknown)[0]!r}.", field=sorted(unknown)[0])
    if "country" in fields:
        fields["country"] = country_clean(str(fields["country"]))
        if not fields["country"]:
            raise DomainError("A tax rate applies to a country: give its ISO 3166-1 code.", field="country")
    if "name" in fields and not str(fields["name"]).strip():
        raise DomainError("A tax rate needs a name.", field="name")
    if "percentage" in fields:
        percentage = fields["percentage"]
        if not isinstance(percentage, Decimal) or not ZERO <= percentage <= HUNDRED \
                or percentage != percentage.quantize(Decimal("0.0001")):
            raise DomainError("A percentage is 0 to 100 with at most 4 decimals.", field="percentage")
    return fields


def tax_rate_create(*, organization_id: int, name: str, country: str, percentage: Decimal, jurisdiction: str = "",
                    region: str = "", inclusive: bool = False) -> TaxRate:
    fields = _rate_clean({"name": name, "country": country, "percentage": percentage, "jurisdiction": jurisdiction,
                          "region": region, "inclusive": inclusive})
    return TaxRate.objects.create(organization_id=organization_id, **fields)


def tax_rate_update(*, tax_rate: TaxRate, **fields: object) -> TaxRate:
    """Change a rate; drafts pick the change up at their next reconciliation, finalized invoices keep the
    tax they were issued with. A rate is retired with active=False (it is never deleted)."""
    fields = _rate_clean(fields)
    for name, value in fields.items():
        setattr(tax_rate, name, value)
    tax_rate.save(update_fields=list(fields))
    return tax_rate


def customer_tax_rates_set(*, customer: Customer, tax_rate_ids: Sequence[int]) -> list[TaxRate]:
    """Assign exactly these rates to the customer (none: back to its country and region's rates)."""
    rates = list(TaxRate.objects.filter(organization_id=customer.organization_id, pk__in=set(tax_rate_ids))
                 .order_by("pk"))
    missing = set(tax_rate_ids) - {rate.pk for rate in rates}
    if missing:
        raise NotFound(f"No tax rate {sorted(missing)[0]}.", field="tax_rates")
    with transaction.atomic():
        Customer.objects.select_for_update().get(pk=customer.pk)
        CustomerTaxRate.objects.filter(customer=customer).exclude(tax_rate__in=rates).delete()
        existing = set(CustomerTaxRate.objects.filter(customer=customer).values_list("tax_rate_id", flat=True))
        CustomerTaxRate.objects.bulk_create([
            CustomerTaxRate(organization_id=customer.organization_id, customer=customer, tax_rate=rate)
            for rate in rates if rate.pk not in existing
        ])
    return rates
