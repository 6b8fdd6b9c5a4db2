"""Celery entry points of the payments queue: ids in, one service call, their own retry policy.

Billing fires them by name after a commit (it may not import payments): `payments.push_invoice` when an
invoice is finalized, `payments.push_credit_note` when a credit note is issued. Each is a no-op for an
organization without Stripe, and safe to run twice or twice at once (see payments.services.push).
"""

import random

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# A database or broker away for a moment; Stripe's own passing troubles are retried below, with backoff.
RETRY = {"autoretry_for": (OperationalError, InterfaceError, BrokerError), "retry_backoff": True}
# 8 tries over about 40 minutes: 15 s doubling to 32 min, with jitter so a Stripe outage is not hit in step.
MAX_TRIES = 8


def backoff(retries: int) -> int:
    return int(15 * 2**retries * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


@shared_task(name="payments.push_invoice", bind=True, max_retries=MAX_TRIES, **RETRY)
def invoice_push_task(self, invoice_id: int) -> str:
    from payments.services.push import PushRetry, invoice_push, invoice_push_give_up

    try:
        push = invoice_push(invoice_id=invoice_id)
    except PushRetry as exc:
        # In-process (the demo without a broker) there is no later: the push shows failed with a retry button.
        if self.request.is_eager or self.request.retries >= MAX_TRIES:
            invoice_push_give_up(invoice_id=invoice_id, problem=exc.problem)
            return "failed"
        raise self.retry(countdown=backoff(self.request.retries)) from exc
    return push.status if push is not None else "skipped"


@shared_task(name="payments.push_credit_note", bind=True, max_retries=MAX_TRIES, **RETRY)
def credit_note_push_task(self, credit_note_id: int) -> str:
    from payments.services.credit_notes import credit_note_push, credit_note_push_give_up
    from payments.services.push import PushRetry

    try:
        push = credit_note_push(credit_note_id=credit_note_id)
    except PushRetry as exc:
        if self.request.is_eager or self.request.retries >= MAX_TRIES:
            credit_note_push_give_up(credit_note_id=credit_note_id, problem=exc.problem)
            return "failed"
        raise self.retry(countdown=backoff(self.request.retries)) from exc
    return push.status if push is not None else "skipped"


@shared_task(name="payments.void_invoice", bind=True, max_retries=MAX_TRIES, **RETRY)
def invoice_void_push_task(self, invoice_id: int) -> str:
    from payments.services.push import PushRetry, invoice_void_push

    try:
        push = invoice_void_push(invoice_id=invoice_id)
    except PushRetry as exc:
        if self.request.is_eager or self.request.retries >= MAX_TRIES:
            return "failed"
        raise self.retry(countdown=backoff(self.request.retries)) from exc
    return push.remote_status if push is not None else "skipped"


@shared_task(name="payments.resume_pushes", **RETRY)
def invoice_pushes_resume_task() -> int:
    from payments.services.push import invoice_pushes_resume

    return invoice_pushes_resume()
