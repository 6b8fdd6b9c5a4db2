from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import Customer
from billing.models import Notification, PriceBook
from billing.webhook_events import spend_cap_threshold_emit
from core.periods import Period

SPEND_THRESHOLDS = (50, 80, 100)


def spend_alerts_record(*, customer: Customer, period: Period, book: PriceBook | None, charged: Decimal) -> None:
    """Record each spend-cap threshold the period's charges have crossed, once per period."""
    if book is None or not book.spend_cap:
        return
    used = charged / book.spend_cap * 100
    for threshold in SPEND_THRESHOLDS:
        if used < threshold:
            break
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    organization_id=customer.organization_id, customer=customer, period_start=period.start,
                    kind=f"spend_cap_{threshold}",
                    message=f"{customer.name} reached {threshold}% of its {book.spend_cap.normalize():f} "
                    f"{book.currency} spend cap for {period.label}.",
                    data={"threshold": threshold, "charged": str(charged), "spend_cap": str(book.spend_cap),
                          "currency": book.currency, "period": period.label},
                )
                spend_cap_threshold_emit(notification=notification)
        except IntegrityError:
            continue  # recorded by an earlier run
