"""Reads of the audit log, scoped to one organization."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from pghistory.models import Events

from audit import models as events
from billing.models import PriceBook


def _event_model(name: str) -> type[Any]:
    """An event model pghistory builds at import time (audit/models.py), which the type checker cannot see."""
    model: type[Any] = getattr(events, name)
    return model


# The object types a vendor admin can filter by: key -> (label, event model).
AUDITED: dict[str, tuple[str, type[Any]]] = {
    "price_book": ("Price book", _event_model("PriceBookEvent")),
    "price": ("Price (price-book entry)", _event_model("PriceBookEntryEvent")),
    "meter_price": ("Usage price (price-book meter)", _event_model("PriceBookMeterEvent")),
    "rate": ("Rate", _event_model("RateEvent")),
    "outcome_type": ("Outcome type", _event_model("OutcomeTypeEvent")),
    "invoice": ("Invoice", _event_model("InvoiceEvent")),
    "credit_note": ("Credit note", _event_model("CreditNoteEvent")),
    "dispute": ("Dispute", _event_model("DisputeEvent")),
    "api_key": ("API key", _event_model("ApiKeyEvent")),
    "user": ("User", _event_model("UserEvent")),
}
# Price-book entries and meter prices carry no organization of their own: their price book's says.
_THROUGH_PRICE_BOOK = {"price", "meter_price"}


def audit_event_list(
    *, organization: Any, object_type: str | None = None, day_from: date | None = None, day_to: date | None = None
) -> QuerySet[Events]:
    """The organization's audit events, newest first, each with its row after (pgh_data), what
    changed from the row before (pgh_diff: field -> [before, after]) and who (pgh_context)."""
    keys = [object_type] if object_type else list(AUDITED)
    direct = [AUDITED[key][1] for key in keys if key not in _THROUGH_PRICE_BOOK]
    through = [AUDITED[key][1] for key in keys if key in _THROUGH_PRICE_BOOK]
    scope = Q(pk__in=[])
    if direct:
        scope |= Q(pgh_model__in=[m._meta.label for m in direct], pgh_data__organization_id=organization.pk)
    if through:
        books = list(PriceBook.objects.filter(organization=organization).values_list("pk", flat=True))
        scope |= Q(pgh_model__in=[m._meta.label for m in through], pgh_data__price_book_id__in=books)
    rows = Events.objects.across(*direct, *through).filter(scope)
    if day_from is not None:
        rows = rows.filter(pgh_created_at__gte=_start_of(day_from))
    if day_to is not None and day_to < date.max:
        rows = rows.filter(pgh_created_at__lt=_start_of(day_to + timedelta(days=1)))
    return rows.order_by("-pgh_created_at", "-pgh_id")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
