from celery import shared_task

from outcomes.services import outcomes_verify_due


@shared_task(name="outcomes.verify_due")
def outcomes_verify_due_task() -> int:
    return outcomes_verify_due()
