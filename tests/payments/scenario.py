"""A vendor with Stripe connected to the stand-in, and finalized invoices to push."""

from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Customer, Organization
from billing.models import Invoice, TaxRate
from billing.services.finalize import invoice_finalize
from core.periods import period_parse
from outcomes.models import OutcomeType
from payments.models import StripeAccount
from payments.services.connect import stripe_connect
from payments.standin import StripeStandIn
from tests.billing.scenario import outcomes, post_outcomes, reconcile
from tests.factories import OutcomeTypeFactory

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@dataclass
class Connected:
    organization: Organization
    account: StripeAccount
    api_key: str


def stripe_key_for(organization: Organization) -> str:
    return f"sk_test_{organization.slug.replace('-', '')}0123456789"


def connect(standin: StripeStandIn, organization: Organization, *, automatic_tax: bool = False,
            webhook_url: str | None = None) -> Connected:
    """The organization's own Stripe account in the stand-in, connected through the real key check."""
    key = stripe_key_for(organization)
    standin.account_add(key, name=organization.name, webhook_url=webhook_url, webhook_secret=WEBHOOK_SECRET)
    account = stripe_connect(organization=organization, secret_key=key, webhook_secret=WEBHOOK_SECRET,
                             automatic_tax=automatic_tax)
    return Connected(organization, account, key)


def billing_details(customer: Customer, *, country: str = "DE", tax_id: str = "DE123456789") -> Customer:
    customer.billing_name, customer.billing_email = f"{customer.name} GmbH", "ap@acme.example"
    customer.address_line1, customer.city, customer.postal_code, customer.country = "Hauptstr. 1", "Berlin", "10115", country
    customer.tax_id = tax_id
    customer.save()
    return customer


def finalized_invoice(customer: Customer, *, count: int = 4, price: str = "1.25", vat: str | None = "19",
                      prefix: str = "o", month: int = 10) -> Invoice:
    """The invoice of `count` outcomes at `price` (October 2026 unless `month`), with VAT when `vat` is given,
    finalized."""
    organization = customer.organization
    if not OutcomeType.objects.filter(organization=organization, code="ticket_resolved").exists():
        OutcomeTypeFactory.create(organization=organization, price=Decimal(price))
    if vat and not TaxRate.objects.filter(organization=organization, country=customer.country).exists():
        TaxRate.objects.create(organization=organization, name="VAT", jurisdiction="Germany", country=customer.country,
                               percentage=Decimal(vat))
    post_outcomes(organization, outcomes(customer, count, prefix=prefix, month=month))
    return invoice_finalize(invoice=reconcile(customer, period_parse(f"2026-{month:02d}")))
