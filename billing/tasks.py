from celery import shared_task

from billing.services.runs import billing_run_execute


@shared_task(name="billing.run_billing", acks_late=True)
def billing_run_execute_task(run_id: int) -> str:
    return billing_run_execute(run_id=run_id).status


@shared_task(name="billing.refresh_open_drafts")
def billing_refresh_open_drafts_task() -> int:
    from billing.services.runs import billing_refresh_open_drafts

    return billing_refresh_open_drafts()
