"""Pushing a finalized invoice to Stripe: its customer, a Stripe invoice whose items are our summary lines
(and our tax, unless Stripe Tax computes it), finalized there; the hosted invoice URL becomes our
payment link.

Never twice: every write carries an idempotency key made of our own ids (`tally:<org>:invoice:<id>:…`),
so a retry, or a worker killed half way and its task delivered again, gets Stripe's first answer back
instead of a second invoice. Each step also looks before it writes: the Stripe invoice id is recorded
as soon as Stripe answers, a retry without it searches Stripe by our id in metadata (for when a key
has expired, after 24 hours), and lines already on the Stripe draft are not added again. A
session-level advisory lock keeps two workers off one invoice at once.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, cast

import stripe
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import CreditNote, Invoice, InvoiceTax
from billing.selectors.document import invoice_summary
from billing.services.payments import invoice_payment_link_set
from core.errors import DomainError, InvalidState
from core.money import minor_unit
from payments.models import InvoicePush, PushStatus, StripeAccount, StripeCustomer
from payments.services.client import StripeProblem, stripe_client, stripe_problem
from payments.services.customers import stripe_customer_sync

PUSH_TASK = "payments.push_invoice"
CREDIT_NOTE_TASK = "payments.push_credit_note"
# Stripe's add_lines takes at most 250 lines a call; our summaries have a handful, a big one a few dozen.
LINES_PER_CALL = 100
# A push untouched this long lost its task (every attempt touches it; a retry waits 38 minutes at most).
RESUME_AFTER = timedelta(minutes=40)
# At most this many sent again per beat tick: an outage's backlog drains over a few ticks, not in one burst.
RESUME_CHUNK = 500
_LOCK_NAMESPACE = 0x5472_4950  # "TrIP": advisory locks of invoice pushes (pg_try_advisory_lock(ns, push id))


class PushRetry(Exception):  # noqa: N818 - a signal to the task, not an error of ours
    """Stripe could not be reached or asked us to slow down: the task tries again later."""

    def __init__(self, problem: StripeProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount in the currency's minor unit, as Stripe counts (12.34 USD → 1234). Our amounts are
    already rounded to it (core.money), so this never rounds; it refuses rather than guess."""
    scaled = amount.scaleb(minor_unit(currency))
    if scaled != scaled.to_integral_value():
        raise DomainError(f"{amount} {currency} is finer than the currency's minor unit.", field="amount")
    return int(scaled)


def from_minor(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-minor_unit(currency))


def invoice_detail_url(invoice: Invoice) -> str:
    return f"{settings.PORTAL_PUBLIC_URL.rstrip('/')}/invoices/{invoice.pk}/"


def stripe_invoice_lines(invoice: Invoice, *, automatic_tax: bool) -> list[dict[str, Any]]:
    """The Stripe items of an invoice: one per summary line, then one per exclusive tax of ours (inclusive
    tax is inside the amounts already; with Stripe Tax, Stripe adds its own). They add up to our total."""
    lines: list[dict[str, Any]] = [
        {"amount": to_minor(line.amount, invoice.currency), "description": line.label[:500],
         "metadata": {"tally_line": f"s{index}"}}
        for index, line in enumerate(invoice_summary(invoice))
    ]
    taxes = list(InvoiceTax.objects.filter(invoice=invoice, inclusive=False).order_by("position"))
    if not automatic_tax:
        lines += [
            {"amount": to_minor(tax.amount, invoice.currency),
             "description": f"{tax.name} {tax.rate.normalize():f}%" + (f" ({tax.jurisdiction})" if tax.jurisdiction
                                                                        else ""),
             "metadata": {"tally_line": f"t{tax.position}"}}
            for tax in taxes if tax.amount
        ]
    expected = invoice.total - (sum((tax.amount for tax in taxes), Decimal(0)) if automatic_tax else 0)
    if sum(line["amount"] for line in lines) != to_minor(expected, invoice.currency):
        raise InvalidState(f"The invoice's summary lines do not add up to its total ({invoice.total} "
                           f"{invoice.currency}); not pushed.", field="total")
    return lines


def _invoice_params(invoice: Invoice, *, customer_id: str, automatic_tax: bool) -> dict[str, Any]:
    """Deterministic for a frozen invoice, so a retry's request is the same request."""
    url = invoice_detail_url(invoice)
    number = invoice.number or str(invoice.pk)
    params: dict[str, Any] = {
        "customer": customer_id, "currency": invoice.currency.lower(), "collection_method": "send_invoice",
        "auto_advance": False, "pending_invoice_items_behavior": "exclude",
        "description": f"Invoice {number} for {invoice.period}. Each task and outcome billed: {url}"[:1500],
        "custom_fields": [{"name": "Tally invoice", "value": number[:140]}],
        "metadata": {"tally_invoice_id": str(invoice.pk), "tally_invoice_number": number,
                     "tally_organization": invoice.organization.slug, "tally_detail_url": url[:500]},
        "automatic_tax": {"enabled": automatic_tax},
    }
    if invoice.due_date is not None:
        params["due_date"] = int(datetime.combine(invoice.due_date, time(23, 59, 59), tzinfo=UTC).timestamp())
    else:
        params["days_until_due"] = 30
    return params


@contextmanager
def _push_lock(push_id: int) -> Iterator[bool]:
    """A session-level advisory lock on one push: held across the Stripe calls without holding a transaction
    open, and freed by PostgreSQL when a killed worker's connection drops."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, push_id])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, push_id])


def invoice_push_queue(*, invoice: Invoice) -> InvoicePush | None:
    """Mark a finalized invoice pending and send its push after commit: the retry button, and invoices
    finalized before Stripe was connected. Nothing when Stripe is not connected."""
    account = StripeAccount.objects.filter(organization_id=invoice.organization_id).first()
    if account is None:
        raise InvalidState("Stripe is not connected: connect it on the Stripe page first.", field="stripe")
    if invoice.status != Invoice.Status.FINALIZED:
        raise InvalidState(f"A {invoice.status} invoice is not sent to Stripe.", field="status")
    with transaction.atomic():
        push, _ = InvoicePush.objects.get_or_create(
            invoice=invoice, defaults={"organization_id": invoice.organization_id,
                                       "automatic_tax": account.automatic_tax})
        if push.status == PushStatus.FAILED:
            push.status = PushStatus.PENDING
            push.save(update_fields=["status", "updated_at"])
        invoice_id = invoice.pk
        transaction.on_commit(lambda: current_app.tasks[PUSH_TASK].delay(invoice_id))
        return push


def invoice_push(*, invoice_id: int) -> InvoicePush | None:
    """Push one invoice (the task's body). None when there is nothing to do: the organization has no
    Stripe, or the invoice is a draft or void. A permanent refusal is recorded as failed with Stripe's
    message; a passing one is recorded and raised as PushRetry for the task to try again."""
    invoice = Invoice.objects.select_related("organization", "customer__organization").filter(pk=invoice_id).first()
    account = StripeAccount.objects.filter(organization_id=invoice.organization_id).first() if invoice else None
    if invoice is None or account is None:
        return None
    push = InvoicePush.objects.filter(invoice=invoice).first()
    if push is None:
        if invoice.status != Invoice.Status.FINALIZED:
            return None  # paid by hand or voided before it ever reached Stripe: nothing to collect there
        push, _ = InvoicePush.objects.get_or_create(
            invoice=invoice, defaults={"organization_id": invoice.organization_id,
                                       "automatic_tax": account.automatic_tax})
    if push.status == PushStatus.PUSHED:
        return push
    if invoice.status != Invoice.Status.FINALIZED and not push.stripe_invoice_id:
        push.delete()  # voided or paid by hand while its push waited: nothing to collect in Stripe any more
        return None
    with _push_lock(push.pk) as locked:
        if not locked:
            raise PushRetry(StripeProblem("Another worker is pushing this invoice.", "busy", transient=True))
        InvoicePush.objects.filter(pk=push.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
        push.refresh_from_db()
        if push.status == PushStatus.PUSHED:
            return push
        try:
            remote = _push_to_stripe(account=account, invoice=invoice, push=push)
        except stripe.StripeError as exc:
            problem = stripe_problem(exc)
            _failure_record(push, problem, final=not problem.transient)
            if problem.transient:
                raise PushRetry(problem) from exc
            push.refresh_from_db()
            return push
        except DomainError as exc:
            _failure_record(push, StripeProblem(exc.message, exc.code.value, transient=False), final=True)
            push.refresh_from_db()
            return push
        return _pushed_record(push=push, invoice=invoice, remote=remote)


def invoice_pushes_resume(*, now: datetime | None = None, stalled_after: timedelta = RESUME_AFTER) -> int:
    """Send again the pushes whose task was lost (a broker restarted without it): pending and untouched for
    `stalled_after`, and invoices finalized since their organization connected Stripe that have no push.
    Beat runs it every few minutes; a push already under way is safe (idempotency keys, the advisory lock)."""
    now = now or timezone.now()
    pending = list(InvoicePush.objects.filter(status=PushStatus.PENDING, updated_at__lt=now - stalled_after)
                   .order_by("pk").values_list("invoice_id", flat=True)[:RESUME_CHUNK])
    never = list(Invoice.objects.filter(
        status=Invoice.Status.FINALIZED, stripe_push__isnull=True,
        organization__stripe_account__isnull=False,
        finalized_at__gte=F("organization__stripe_account__connected_at"),
        finalized_at__lt=now - stalled_after,
    ).order_by("pk").values_list("pk", flat=True)[:RESUME_CHUNK])
    for invoice_id in pending + never:
        current_app.tasks[PUSH_TASK].delay(invoice_id)
    return len(pending) + len(never)


def invoice_void_push(*, invoice_id: int) -> InvoicePush | None:
    """Our invoice was voided: void its Stripe invoice too, so the customer can no longer pay it there. A
    Stripe invoice already paid (or void) is left as it is; the reconciliation page then says why."""
    push = InvoicePush.objects.select_related("invoice").filter(invoice_id=invoice_id).first()
    account = StripeAccount.objects.filter(organization_id=push.organization_id).first() if push else None
    if push is None or account is None or not push.stripe_invoice_id:
        return None
    if push.invoice.status != Invoice.Status.VOID or push.remote_status not in {"open", "uncollectible", ""}:
        return push
    client = stripe_client(account)
    try:
        key = f"tally:{push.organization_id}:invoice:{invoice_id}:void"
        remote = client.v1.invoices.void_invoice(push.stripe_invoice_id, options={"idempotency_key": key})
    except stripe.StripeError as exc:
        problem = stripe_problem(exc)
        if problem.transient:
            raise PushRetry(problem) from exc
        InvoicePush.objects.filter(pk=push.pk).update(remote_note=f"Voiding in Stripe failed: {problem.message}"[:500],
                                                      updated_at=timezone.now())
        return push
    InvoicePush.objects.filter(pk=push.pk).update(remote_status=remote.status or "void", updated_at=timezone.now())
    push.refresh_from_db()
    return push


def invoice_push_give_up(*, invoice_id: int, problem: StripeProblem) -> None:
    """The task's retries are spent: the push shows failed, with the last message, until someone retries."""
    push = InvoicePush.objects.filter(invoice_id=invoice_id).exclude(status=PushStatus.PUSHED).first()
    if push is not None:
        _failure_record(push, problem, final=True)


def _failure_record(push: InvoicePush, problem: StripeProblem, *, final: bool) -> None:
    InvoicePush.objects.filter(pk=push.pk).exclude(status=PushStatus.PUSHED).update(
        status=PushStatus.FAILED if final else PushStatus.PENDING, last_error=problem.message,
        last_error_code=problem.code, updated_at=timezone.now())


def _push_to_stripe(*, account: StripeAccount, invoice: Invoice, push: InvoicePush) -> stripe.Invoice:
    client = stripe_client(account)
    key = f"tally:{invoice.organization_id}:invoice:{invoice.pk}"
    retrying = push.attempts > 1
    lines = stripe_invoice_lines(invoice, automatic_tax=push.automatic_tax)
    customer_id = stripe_customer_sync(client=client, account=account, customer=invoice.customer,
                                       search_first=retrying)
    InvoicePush.objects.filter(pk=push.pk).update(stripe_customer_id=customer_id)
    remote: stripe.Invoice | None = None
    if push.stripe_invoice_id:
        remote = client.v1.invoices.retrieve(push.stripe_invoice_id)
    elif retrying:
        found = client.v1.invoices.search(params={"query": f"metadata['tally_invoice_id']:'{invoice.pk}'"})
        remote = next((item for item in found.data if item.customer == customer_id), None)
    if remote is None:
        params = _invoice_params(invoice, customer_id=customer_id, automatic_tax=push.automatic_tax)
        try:
            remote = client.v1.invoices.create(params=cast(Any, params), options={"idempotency_key": f"{key}:create"})
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing" or exc.param != "customer":
                raise
            # The customer was deleted in Stripe since we last synced it: create it again, then the invoice.
            StripeCustomer.objects.filter(customer=invoice.customer).delete()
            customer_id = stripe_customer_sync(client=client, account=account, customer=invoice.customer,
                                               replacing=customer_id)
            InvoicePush.objects.filter(pk=push.pk).update(stripe_customer_id=customer_id)
            params = _invoice_params(invoice, customer_id=customer_id, automatic_tax=push.automatic_tax)
            remote = client.v1.invoices.create(params=cast(Any, params),
                                               options={"idempotency_key": f"{key}:create:{customer_id}"})
    if remote.id != push.stripe_invoice_id:
        # Recorded at once, in its own transaction: whatever happens next, a retry finds this invoice.
        InvoicePush.objects.filter(pk=push.pk).update(stripe_invoice_id=remote.id)
    if remote.status == "draft":
        if invoice.status != Invoice.Status.FINALIZED:
            raise InvalidState(f"Invoice {invoice.number} is {invoice.status} here: its Stripe draft {remote.id} is "
                               "left unfinalized.", field="status")
        present = {(line.to_dict().get("metadata") or {}).get("tally_line") for line in
                   client.v1.invoices.line_items.list(remote.id, params={"limit": 100}).auto_paging_iter()}
        missing = [line for line in lines if line["metadata"]["tally_line"] not in present]
        for start in range(0, len(missing), LINES_PER_CALL):
            chunk = missing[start:start + LINES_PER_CALL]
            first, last = chunk[0]["metadata"]["tally_line"], chunk[-1]["metadata"]["tally_line"]
            client.v1.invoices.add_lines(remote.id, params={"lines": chunk},  # type: ignore[typeddict-item]
                                         options={"idempotency_key": f"{key}:lines:{first}-{last}"})
        # auto_advance: Stripe now emails the hosted invoice and sends its reminders.
        remote = client.v1.invoices.finalize_invoice(remote.id, params={"auto_advance": True},
                                                     options={"idempotency_key": f"{key}:finalize"})
    return remote


def _credit_note_send(credit_note_id: int) -> None:
    current_app.tasks[CREDIT_NOTE_TASK].delay(credit_note_id)


def _pushed_record(*, push: InvoicePush, invoice: Invoice, remote: stripe.Invoice) -> InvoicePush:
    with transaction.atomic():
        push = InvoicePush.objects.select_for_update().get(pk=push.pk)
        push.status, push.pushed_at = PushStatus.PUSHED, timezone.now()
        push.last_error, push.last_error_code = "", ""
        push.stripe_invoice_id, push.stripe_number = remote.id or "", remote.number or ""
        push.hosted_invoice_url = remote.hosted_invoice_url or ""
        if push.remote_event_at is None:  # an event may already have told a later state
            push.remote_status = remote.status or ""
            push.remote_total, push.remote_amount_paid = remote.total, remote.amount_paid
            push.remote_amount_remaining = remote.amount_remaining
        push.save()
        current = Invoice.objects.get(pk=invoice.pk)
        if push.hosted_invoice_url and current.status == Invoice.Status.FINALIZED:
            invoice_payment_link_set(invoice=current, url=push.hosted_invoice_url)
        # Credit notes issued while the push was on its way waited for it: send them now.
        waiting = list(CreditNote.objects.filter(invoice_id=invoice.pk).exclude(stripe_push__status=PushStatus.PUSHED)
                       .order_by("pk").values_list("pk", flat=True))
        for note_id in waiting:
            transaction.on_commit(partial(_credit_note_send, note_id))
        return push
