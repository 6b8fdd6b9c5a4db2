"""The event types a vendor may subscribe to; each is emitted by the service that makes its change."""

from enum import StrEnum


class EventType(StrEnum):
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    INVOICE_OVERDUE = "invoice.overdue"
    CREDIT_NOTE_CREATED = "credit_note.created"
    OUTCOME_VERIFIED = "outcome.verified"
    OUTCOME_REVERSED = "outcome.reversed"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_RESOLVED = "dispute.resolved"
    SPEND_CAP_THRESHOLD_REACHED = "spend_cap.threshold_reached"
    BILLING_RUN_COMPLETED = "billing_run.completed"
    TASK_BUDGET_EXCEEDED = "task.budget_exceeded"


EVENT_TYPES: frozenset[str] = frozenset(EventType)

# One line each, for the API docs and the console's subscription form.
EVENT_DESCRIPTIONS: dict[str, str] = {
    EventType.INVOICE_FINALIZED: "An invoice was numbered and frozen.",
    EventType.INVOICE_PAID: "Nothing is due on an invoice any more.",
    EventType.INVOICE_PAYMENT_FAILED: "A payment of an invoice failed.",
    EventType.INVOICE_OVERDUE: "An invoice passed its due date unpaid (once per invoice).",
    EventType.CREDIT_NOTE_CREATED: "A credit note was issued against an invoice.",
    EventType.OUTCOME_VERIFIED: "An outcome became billable: its window passed, or evidence confirmed it.",
    EventType.OUTCOME_REVERSED: "An outcome was reversed.",
    EventType.DISPUTE_OPENED: "A customer disputed an outcome.",
    EventType.DISPUTE_RESOLVED: "A dispute was accepted or rejected.",
    EventType.SPEND_CAP_THRESHOLD_REACHED: "A customer's charges crossed 50, 80 or 100% of its spend cap.",
    EventType.BILLING_RUN_COMPLETED: "A billing run finished.",
    EventType.TASK_BUDGET_EXCEEDED: "A task's cost crossed its outcome type's margin guardrail (once per task).",
}

# The event types as serializer choices, also named once for the API schema (ENUM_NAME_OVERRIDES).
EVENT_CHOICES: list[tuple[str, str]] = [(event.value, event.value) for event in EventType]
