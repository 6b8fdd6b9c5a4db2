"""A credit note of ours becomes a Stripe credit note on the invoice's Stripe invoice, keyed by our id."""

from typing import Any

import stripe
from django.db.models import F
from django.utils import timezone

from billing.models import CreditNote
from payments.models import CreditNotePush, InvoicePush, PushStatus, StripeAccount
from payments.services.client import StripeProblem, stripe_client, stripe_problem
from payments.services.push import PushRetry, to_minor


def credit_note_push(*, credit_note_id: int) -> CreditNotePush | None:
    """None when there is nothing to do: no Stripe, or an invoice that was never pushed (it was finalized
    before Stripe was connected). An invoice whose push is still on its way is waited for (PushRetry)."""
    note = CreditNote.objects.select_related("invoice").filter(pk=credit_note_id).first()
    account = StripeAccount.objects.filter(organization_id=note.organization_id).first() if note else None
    invoice_push = InvoicePush.objects.filter(invoice_id=note.invoice_id).first() if note else None
    if note is None or account is None or invoice_push is None:
        return None
    push, _ = CreditNotePush.objects.get_or_create(credit_note=note,
                                                   defaults={"organization_id": note.organization_id})
    if push.status == PushStatus.PUSHED:
        return push
    if invoice_push.status != PushStatus.PUSHED:
        problem = StripeProblem(f"Waiting for invoice {note.invoice.number} to reach Stripe.", "invoice_pending",
                                transient=True)
        _failure_record(push, problem, final=False)
        raise PushRetry(problem)
    CreditNotePush.objects.filter(pk=push.pk).update(attempts=F("attempts") + 1)
    lines = [{"type": "custom_line_item", "description": line.description[:500], "quantity": 1,
              "unit_amount": to_minor(line.amount, note.currency)} for line in note.lines.order_by("pk")]
    params: dict[str, Any] = {"invoice": invoice_push.stripe_invoice_id, "lines": lines, "memo": note.reason[:5000],
              "metadata": {"tally_credit_note_id": str(note.pk), "tally_credit_note_number": note.number}}
    if invoice_push.remote_status == "paid":
        # A paid invoice's credit must say where the money goes; the refund itself is the vendor's call.
        params["out_of_band_amount"] = to_minor(note.total, note.currency)
    try:
        remote = stripe_client(account).v1.credit_notes.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": f"tally:{note.organization_id}:credit_note:{note.pk}:create"})
    except stripe.StripeError as exc:
        problem = stripe_problem(exc)
        _failure_record(push, problem, final=not problem.transient)
        if problem.transient:
            raise PushRetry(problem) from exc
        return push
    CreditNotePush.objects.filter(pk=push.pk).update(
        status=PushStatus.PUSHED, stripe_credit_note_id=remote.id, pushed_at=timezone.now(), last_error="",
        last_error_code="", updated_at=timezone.now())
    push.refresh_from_db()
    return push


def credit_note_push_give_up(*, credit_note_id: int, problem: StripeProblem) -> None:
    push = CreditNotePush.objects.filter(credit_note_id=credit_note_id).exclude(status=PushStatus.PUSHED).first()
    if push is not None:
        _failure_record(push, problem, final=True)


def _failure_record(push: CreditNotePush, problem: StripeProblem, *, final: bool) -> None:
    CreditNotePush.objects.filter(pk=push.pk).exclude(status=PushStatus.PUSHED).update(
        status=PushStatus.FAILED if final else PushStatus.PENDING, last_error=problem.message,
        last_error_code=problem.code, updated_at=timezone.now())
