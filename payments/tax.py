"""Stripe Tax as billing's tax calculator (settings.TAX_CALCULATOR): for an organization that turned Stripe
Tax on, the tax of each draft is Stripe's (POST /v1/tax/calculations on the summary lines' net amount,
the customer's billing address, tax id and tax status); every other organization keeps its own rates
(billing.services.tax.RatesCalculator). The result is stored and frozen like any other tax, and the
invoice's Stripe push then leaves the tax to Stripe (automatic_tax), which computes the same figure."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

import stripe

from accounts.models import Customer
from billing.models import Invoice
from billing.selectors.document import SummaryLine
from billing.services.tax import RatesCalculator, TaxAmount, TaxResult
from core.errors import InvalidState
from payments.models import StripeAccount
from payments.services.client import stripe_client, stripe_problem
from payments.services.customers import tax_id_type
from payments.services.push import from_minor, to_minor

_TAX_NAMES = {"vat": "VAT", "sales_tax": "Sales tax", "gst": "GST", "hst": "HST", "pst": "PST", "qst": "QST",
              "rst": "RST", "jct": "JCT", "igst": "IGST", "lease_tax": "Lease tax", "amusement_tax": "Amusement tax",
              "communications_tax": "Communications tax", "retail_delivery_fee": "Retail delivery fee"}


class StripeTaxCalculator:
    def calculate(self, *, invoice: Invoice, customer: Customer, lines: Sequence[SummaryLine]) -> TaxResult:
        account = StripeAccount.objects.filter(organization_id=invoice.organization_id, automatic_tax=True).first()
        if account is None:
            return RatesCalculator().calculate(invoice=invoice, customer=customer, lines=lines)
        if customer.tax_status != Customer.TaxStatus.STANDARD:
            # Exempt or reverse charge: no tax, and the same note on the invoice as with our own rates.
            return RatesCalculator().calculate(invoice=invoice, customer=customer, lines=lines)
        net = sum((line.amount for line in lines), Decimal(0))
        if net <= 0:
            return TaxResult([])
        if not customer.country:
            raise InvalidState(f"Stripe Tax needs {customer.name}'s billing country to compute the tax.",
                               field="country")
        address = {"line1": customer.address_line1, "line2": customer.address_line2, "city": customer.city,
                   "postal_code": customer.postal_code, "state": customer.region, "country": customer.country.upper()}
        details: dict[str, Any] = {"address": {key: value for key, value in address.items() if value},
                                   "address_source": "billing"}
        kind = tax_id_type(customer.country) if customer.tax_id else None
        if kind:
            details["tax_ids"] = [{"type": kind, "value": customer.tax_id}]
        params = {"currency": invoice.currency.lower(), "customer_details": details,
                  "line_items": [{"amount": to_minor(net, invoice.currency), "reference": f"invoice-{invoice.pk}",
                                  "tax_behavior": "exclusive"}]}
        try:
            calculation = stripe_client(account).v1.tax.calculations.create(params=cast(Any, params))
        except stripe.StripeError as exc:
            raise InvalidState(f"Stripe Tax could not compute the tax: {stripe_problem(exc).message}",
                               field="tax") from exc
        taxes = []
        for part in calculation.to_dict().get("tax_breakdown") or []:
            if not part.get("amount"):
                continue
            rate = part.get("tax_rate_details") or {}
            where = "-".join(value for value in (rate.get("country"), rate.get("state")) if value)
            taxes.append(TaxAmount(
                name=_TAX_NAMES.get(rate.get("tax_type") or "", "Tax"),
                rate=Decimal(str(rate.get("percentage_decimal") or "0")),
                taxable_amount=from_minor(int(part.get("taxable_amount") or 0), invoice.currency),
                amount=from_minor(int(part["amount"]), invoice.currency), inclusive=bool(part.get("inclusive")),
                jurisdiction=f"{where} (Stripe Tax)" if where else "Stripe Tax",
            ))
        return TaxResult(taxes)
