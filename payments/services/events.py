"""Stripe's events, received at POST /webhooks/stripe/<organization>: verified with the official SDK
against that organization's signing secret, recorded once by event id, and applied to our invoice.

What moves our invoice: money. `invoice.paid` and `invoice.payment_succeeded` record what Stripe says
was paid beyond what we booked already (billing.services.payments.invoice_payment_record, one payment
per event), which moves the invoice to paid when nothing is left due. `invoice.payment_failed` is kept
and shown. `invoice.voided` and `invoice.marked_uncollectible` are kept and shown too but do not void
ours: a finalized invoice of ours is corrected only by a credit note (or voided here, by a person, with
what voiding means for its outcomes), so the reconciliation page lists it until someone decides.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.db import transaction

from accounts.models import Organization
from billing.models import Invoice
from billing.services.payments import invoice_payment_record
from billing.webhook_events import invoice_event_emit
from core.crypto import secret_decrypt
from core.errors import DomainError, NotFound
from payments.models import InvoicePush, StripeAccount, StripeEvent
from payments.services.push import from_minor
from webhooks.events import EventType

# How old a signed event may be (Stripe's SDK default, 5 minutes): an older one is refused as a replay.
SIGNATURE_TOLERANCE = 300
INVOICE_EVENTS = {"invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.voided",
                  "invoice.marked_uncollectible", "invoice.finalized", "invoice.updated", "invoice.sent"}


@dataclass(frozen=True)
class Received:
    event: StripeEvent
    replayed: bool


def stripe_event_receive(*, organization_slug: str, payload: bytes, signature: str | None) -> Received:
    organization = Organization.objects.filter(slug=organization_slug).first()
    account = StripeAccount.objects.filter(organization=organization).first() if organization else None
    if organization is None or account is None or not account.webhook_secret_encrypted:
        raise NotFound("No organization with Stripe connected answers here.", field="organization")
    if not signature:
        raise DomainError("The Stripe-Signature header is missing.", field="Stripe-Signature")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret_decrypt(account.webhook_secret_encrypted),
                                               tolerance=SIGNATURE_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise DomainError(f"The Stripe signature does not verify: {exc.user_message or exc}",
                          field="Stripe-Signature") from exc
    except ValueError as exc:
        raise DomainError("The body is not a Stripe event (invalid JSON).", field="body") from exc
    created = datetime.fromtimestamp(event.created, tz=UTC)
    obj: dict[str, Any] = event.data.object.to_dict()
    with transaction.atomic():
        stored, new = StripeEvent.objects.get_or_create(
            organization=organization, event_id=event.id,
            defaults={"type": event.type[:100], "created": created, "stripe_object_id": str(obj.get("id", ""))[:100],
                      "outcome": StripeEvent.Outcome.IGNORED},
        )
        if not new:
            return Received(stored, replayed=True)
        if event.type in INVOICE_EVENTS and obj.get("object") == "invoice":
            outcome, message, invoice = _invoice_event(organization, event.type, obj, created)
            stored.outcome, stored.message, stored.invoice = outcome, message[:500], invoice
        else:
            stored.message = f"{event.type} is not an event Tally acts on."
        stored.save(update_fields=["outcome", "message", "invoice"])
        return Received(stored, replayed=False)


def _invoice_event(organization: Organization, kind: str, obj: dict[str, Any], created: datetime) \
        -> tuple[str, str, Invoice | None]:
    # Scoped to the organization whose URL and secret the event came with: never another's invoice.
    push = (InvoicePush.objects.select_for_update().select_related("invoice")
            .filter(organization=organization, stripe_invoice_id=obj.get("id") or "-").first())
    if push is None:
        message = f"No invoice of {organization.slug} is Stripe invoice {obj.get('id')}."
        return StripeEvent.Outcome.IGNORED, message, None
    invoice = push.invoice
    if push.remote_event_at is None or created >= push.remote_event_at:
        push.remote_status = obj.get("status") or push.remote_status
        push.remote_total = obj.get("total", push.remote_total)
        push.remote_amount_paid = max(obj.get("amount_paid") or 0, push.remote_amount_paid or 0)
        push.remote_amount_remaining = obj.get("amount_remaining", push.remote_amount_remaining)
        push.remote_event_at = created
        push.hosted_invoice_url = obj.get("hosted_invoice_url") or push.hosted_invoice_url
    outcome, message = str(StripeEvent.Outcome.APPLIED), ""
    if kind in {"invoice.paid", "invoice.payment_succeeded"}:
        outcome, message = _payment_book(push, obj, created)
    elif kind == "invoice.payment_failed":
        error = obj.get("last_payment_error") or {}
        push.payment_failed_at = created
        push.payment_failure = (error.get("message") if isinstance(error, dict) else "") or "The payment failed."
        message = f"Payment failed in Stripe: {push.payment_failure}"
        invoice_event_emit(invoice=invoice, type=EventType.INVOICE_PAYMENT_FAILED, extra={"payment": {
            "source": "stripe", "failure_message": push.payment_failure, "failed_at": created.isoformat()}})
    elif kind in {"invoice.voided", "invoice.marked_uncollectible"}:
        state = "voided" if kind == "invoice.voided" else "marked uncollectible"
        push.remote_note = (f"{state.capitalize()} in Stripe on {created:%Y-%m-%d}; invoice {invoice.number} stays "
                            f"{invoice.status} here: issue a credit note or void it here to follow.")
        outcome, message = StripeEvent.Outcome.REFUSED, push.remote_note
    push.save()
    return outcome, message, invoice


def _payment_book(push: InvoicePush, obj: dict[str, Any], created: datetime) -> tuple[str, str]:
    """Record Stripe's amount paid beyond what was booked, as one payment whose reference is the Stripe
    invoice and the amount it reached, so the same state seen twice (two event types) books once."""
    invoice = Invoice.objects.select_for_update().get(pk=push.invoice_id)
    paid_minor = obj.get("amount_paid") or 0
    delta_minor = paid_minor - push.booked_amount_paid
    if delta_minor <= 0:
        return StripeEvent.Outcome.APPLIED, "Nothing new paid."
    transitions = obj.get("status_transitions") or {}
    paid_unix = transitions.get("paid_at")
    paid_at = datetime.fromtimestamp(paid_unix, tz=UTC) if paid_unix else created
    amount = from_minor(delta_minor, invoice.currency)
    if invoice.status != Invoice.Status.FINALIZED:
        return StripeEvent.Outcome.REFUSED, f"Paid in Stripe, but invoice {invoice.number} is {invoice.status} here."
    booked = min(amount, invoice.amount_due)
    if booked <= 0:
        return StripeEvent.Outcome.REFUSED, f"Paid in Stripe, but nothing is due on {invoice.number} here."
    invoice_payment_record(invoice=invoice, amount=booked, paid_at=paid_at, source="stripe",
                           reference=f"{obj.get('id')}:{paid_minor}")
    push.booked_amount_paid = paid_minor
    if booked != amount:
        return StripeEvent.Outcome.APPLIED, (f"Stripe says {amount} {invoice.currency} was paid; {booked} was due "
                                             "here, so that much was recorded.")
    return StripeEvent.Outcome.APPLIED, f"{amount} {invoice.currency} paid."
