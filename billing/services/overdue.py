"""Announcing invoices that became overdue (`invoice.overdue`), once each, from beat."""

from datetime import date, timedelta

from django.db import transaction

from billing.models import Invoice
from billing.selectors.aging import invoice_overdue_q
from billing.webhook_events import invoice_event_emit
from webhooks.events import EventType
from webhooks.selectors import event_once_keys_existing

# How far back the check looks: an invoice is announced by the first check after its due date; a week
# covers a beat that was down for days, and the query stays on a bounded slice of the invoices.
OVERDUE_LOOKBACK_DAYS = 7
# Invoices per transaction: a month-end of thousands is announced in short transactions.
OVERDUE_CHUNK = 500


def _key(invoice: Invoice) -> str:
    return f"invoice.overdue:{invoice.pk}"


def invoices_overdue_announce(*, today: date) -> int:
    """Emit `invoice.overdue` for each open invoice past its due date (as of `today`, UTC) not announced
    yet; the outbox's once-key makes a second check, or two at once, add nothing. Returns how many."""
    candidates = list(
        Invoice.objects.filter(invoice_overdue_q(today), due_date__gte=today - timedelta(days=OVERDUE_LOOKBACK_DAYS))
        .order_by("pk").values_list("pk", "organization_id")
    )
    announced = 0
    for start in range(0, len(candidates), OVERDUE_CHUNK):
        chunk = candidates[start:start + OVERDUE_CHUNK]
        with transaction.atomic():
            invoices = (Invoice.objects.filter(pk__in=[pk for pk, _ in chunk]).filter(invoice_overdue_q(today))
                        .select_related("customer").order_by("pk"))
            by_org: dict[int, list[Invoice]] = {}
            for invoice in invoices:
                by_org.setdefault(invoice.organization_id, []).append(invoice)
            for organization_id, rows in by_org.items():
                done = event_once_keys_existing(organization_id=organization_id, keys=[_key(i) for i in rows])
                for invoice in rows:
                    if _key(invoice) in done:
                        continue
                    assert invoice.due_date is not None  # the overdue predicate requires it
                    invoice_event_emit(invoice=invoice, type=EventType.INVOICE_OVERDUE, once_key=_key(invoice),
                                       extra={"days_overdue": (today - invoice.due_date).days})
                    announced += 1
    return announced
