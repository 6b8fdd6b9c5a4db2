"""What an invoice becomes when it is issued: its issue and due dates and its parties, frozen with it."""

from datetime import datetime, timedelta

from billing.models import Invoice
from billing.selectors.document import billing_profile_of, buyer_party, payment_terms_days, seller_party


def invoice_issue_set(*, invoice: Invoice, at: datetime) -> list[str]:
    """Set the issue date (the finalization's UTC date), the due date (plus the customer's payment terms,
    else the organization's, net 30 by default) and the parties as they are now; the fields set, for
    the finalization's save. The caller saves in the same update that freezes the invoice."""
    profile = billing_profile_of(invoice.organization)
    customer = invoice.customer
    invoice.issue_date = at.date()
    invoice.due_date = invoice.issue_date + timedelta(days=payment_terms_days(profile=profile, customer=customer))
    invoice.bill_from = seller_party(organization=invoice.organization, profile=profile).as_dict()
    invoice.bill_to = buyer_party(customer=customer).as_dict()
    return ["issue_date", "due_date", "bill_from", "bill_to"]
