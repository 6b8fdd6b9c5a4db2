"""Stripe Tax replaces the organization's tax rates once turned on: the draft's tax comes from Stripe's tax
calculation (through billing's calculator hook), is frozen with the invoice, and the pushed Stripe invoice,
which computes its own tax, agrees with ours to the cent."""

from decimal import Decimal

import pytest

from accounts.models import Customer
from billing.models import InvoiceTax
from payments.selectors import reconciliation_list
from payments.services.push import invoice_push
from payments.standin import StripeStandIn
from tests.payments.scenario import billing_details, connect, finalized_invoice

pytestmark = pytest.mark.django_db


def test_stripe_tax_computes_the_invoices_tax_and_stripe_agrees(vendor, standin: StripeStandIn,
                                                                 stripe_base: str) -> None:
    billing_details(vendor.customer, country="FR", tax_id="FR12345678901")
    connected = connect(standin, vendor.organization, automatic_tax=True)
    invoice = finalized_invoice(vendor.customer, vat=None)  # no rates of our own: Stripe's 20% for France

    [tax] = InvoiceTax.objects.filter(invoice=invoice)
    assert (tax.name, tax.rate, tax.amount, tax.taxable_amount) == ("VAT", Decimal(20), Decimal("1.00"),
                                                                    Decimal("5.00"))
    assert tax.tax_rate_id is None and "Stripe Tax" in tax.jurisdiction
    assert invoice.total == Decimal("6.00")
    calculation = standin.requests("POST", r"/v1/tax/calculations")[-1]  # each reconciliation asks, finalizing last
    assert calculation.params["customer_details"]["address"]["country"] == "FR"
    assert calculation.params["customer_details"]["tax_ids"] == [{"type": "eu_vat", "value": "FR12345678901"}]

    invoice_push(invoice_id=invoice.pk)
    [remote] = standin.objects(connected.api_key, "invoice")
    assert remote["automatic_tax"]["enabled"] is True and remote["total"] == 600
    assert reconciliation_list(organization=vendor.organization) == []


def test_our_rates_apply_while_stripe_tax_is_off_and_to_exempt_customers(vendor, standin: StripeStandIn,
                                                                         stripe_base: str) -> None:
    billing_details(vendor.customer)
    connect(standin, vendor.organization, automatic_tax=False)
    invoice = finalized_invoice(vendor.customer)  # our VAT 19% for Germany
    assert [(tax.name, tax.amount) for tax in InvoiceTax.objects.filter(invoice=invoice)] == [("VAT", Decimal("0.95"))]
    assert standin.requests("POST", r"/v1/tax/calculations") == []

    vendor.customer.tax_status = Customer.TaxStatus.REVERSE_CHARGE
    vendor.customer.save()
    connected = connect(standin, vendor.organization, automatic_tax=True)
    november = finalized_invoice(vendor.customer, prefix="n", month=11)
    assert not InvoiceTax.objects.filter(invoice=november).exists() and "Reverse charge" in november.tax_note
    assert standin.requests("POST", r"/v1/tax/calculations") == [] and connected.account.automatic_tax
