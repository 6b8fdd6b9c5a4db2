"""Celery entry points: they take ids, call one service, and own their retry policy."""

from celery import shared_task

from billing.services import finalize, runs, wallet


@shared_task(name="billing.run_start", acks_late=True)
def billing_run_start_task(run_id: int) -> int:
    chunks = runs.billing_run_start(run_id=run_id)
    for chunk in chunks:
        billing_run_chunk_task.delay(run_id, chunk)
    return len(chunks)


@shared_task(name="billing.run_chunk", acks_late=True)
def billing_run_chunk_task(run_id: int, customer_ids: list[int]) -> None:
    runs.billing_run_chunk(run_id=run_id, customer_ids=customer_ids)


@shared_task(name="billing.refresh_open_drafts")
def billing_refresh_open_drafts_task() -> int:
    return runs.billing_refresh_open_drafts()


@shared_task(name="billing.finalize_due")
def invoices_finalize_due_task() -> int:
    return finalize.invoices_finalize_due()


@shared_task(name="billing.expire_credits")
def credits_expire_task() -> int:
    return wallet.credits_expire()
