"""What billing announces to the vendor's webhook endpoints, and the shape of each payload.

Each function is called by the service that makes the change, inside its transaction: the outbox row
commits with the change or not at all (webhooks.services.event_emit). Amounts are decimal strings with
their currency, as in the API; payloads carry what the customer's invoice shows, never cost or margin.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.models import BillingRun, CreditNote, Invoice, Notification
from core.api.fields import decimal_str
from core.money import CURRENCY_MINOR_UNITS
from webhooks.events import EventType
from webhooks.services import event_emit


def _amount(value: Decimal, currency: str) -> str:
    """As the API writes amounts: a decimal string with at least the currency's minor-unit decimals."""
    return decimal_str(value, CURRENCY_MINOR_UNITS.get(currency, 2))


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {"invoice": {
        "id": invoice.pk,
        "number": invoice.number,
        "customer": invoice.customer.external_id,
        "period": invoice.period,
        "status": invoice.status,
        "currency": invoice.currency,
        "total": _amount(invoice.total, invoice.currency),
        "tax_total": _amount(invoice.tax_total, invoice.currency),
        "amount_paid": _amount(invoice.amount_paid, invoice.currency),
        "amount_due": _amount(invoice.amount_due, invoice.currency),
        "issue_date": _iso(invoice.issue_date),
        "due_date": _iso(invoice.due_date),
        "finalized_at": _iso(invoice.finalized_at),
        "paid_at": _iso(invoice.paid_at),
        "payment_url": invoice.payment_url,
    }}


def invoice_event_emit(*, invoice: Invoice, type: EventType, extra: dict[str, Any] | None = None,
                       once_key: str | None = None) -> None:
    """invoice.finalized, invoice.paid, invoice.payment_failed (with `extra`: the failure), invoice.overdue."""
    event_emit(organization_id=invoice.organization_id, type=type, data={**invoice_payload(invoice), **(extra or {})},
               once_key=once_key)


def credit_note_created_emit(*, note: CreditNote) -> None:
    event_emit(organization_id=note.organization_id, type=EventType.CREDIT_NOTE_CREATED, data={"credit_note": {
        "id": note.pk, "number": note.number, "invoice_id": note.invoice_id, "invoice_number": note.invoice.number,
        "customer": note.customer.external_id, "currency": note.currency, "total": _amount(note.total, note.currency),
        "reason": note.reason, "created_at": _iso(note.created_at),
    }})


def spend_cap_threshold_emit(*, notification: Notification) -> None:
    """Once per customer, period and threshold: called where the spend-cap notification is first recorded."""
    event_emit(organization_id=notification.organization_id, type=EventType.SPEND_CAP_THRESHOLD_REACHED, data={
        "customer": notification.customer.external_id, "message": notification.message, **notification.data,
    })


def billing_run_completed_emit(*, run: BillingRun) -> None:
    event_emit(organization_id=run.organization_id, type=EventType.BILLING_RUN_COMPLETED, data={"billing_run": {
        "id": run.pk, "period": run.period, "status": run.status,
        "customer": run.customer.external_id if run.customer is not None else None,
        "customers_total": run.customers_total, "customers_done": run.customers_done,
        "error": run.error[:2000], "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
    }})
