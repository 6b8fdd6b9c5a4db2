"""Celery entry points of the value app: they take ids, call one service, own their retry policy."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

# Safe to run again: issuing a receipt whose figures are unchanged returns the one already issued.
RETRY = {"autoretry_for": (OperationalError, InterfaceError), "max_retries": 5, "retry_backoff": True}


@shared_task(name="value.receipt_issue", **RETRY)
def receipt_issue_task(invoice_id: int) -> int | None:
    """Sent by billing.services.finalize (by this name) once an invoice is finalized."""
    from value.services.receipts import receipts_issue_for_invoice

    receipt = receipts_issue_for_invoice(invoice_id=invoice_id)
    return receipt.pk if receipt else None


@shared_task(name="value.guardrails_scan", **RETRY)
def guardrails_scan_task() -> int:
    """Beat: record the tasks of the current period that crossed their type's margin guardrail."""
    from value.services.guardrails import guardrails_scan

    return guardrails_scan()
