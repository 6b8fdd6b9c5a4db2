from celery import shared_task
from django.utils import timezone

from metering.partitions import partitions_ensure


@shared_task(name="metering.ensure_partitions")
def partitions_ensure_task() -> list[str]:
    return partitions_ensure(today=timezone.now().date(), months_ahead=3)
