"""`{% stripe_invoice_panel invoice %}`: an invoice's Stripe state on its page, for the vendor's users."""

from typing import Any

from django import template

from billing.models import Invoice
from payments.models import InvoicePush, StripeAccount
from payments.selectors import push_reasons

register = template.Library()


@register.inclusion_tag("portal/payments_invoice_panel.html", takes_context=True)
def stripe_invoice_panel(context: template.Context, invoice: Invoice) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_vendor", False) or user.organization_id != invoice.organization_id:
        return {"show": False}  # a customer's users see the payment link, never Stripe's internals
    push = InvoicePush.objects.filter(organization_id=invoice.organization_id, invoice=invoice).first()
    connected = StripeAccount.objects.filter(organization_id=invoice.organization_id).exists()
    return {
        "show": push is not None or connected, "invoice": invoice, "push": push, "connected": connected,
        "reasons": push_reasons(push, invoice) if push else [], "user": user,
        "csrf_token": context.get("csrf_token"),
        "can_retry": connected and invoice.status == Invoice.Status.FINALIZED and (push is None or
                                                                                  push.status != "pushed"),
    }
