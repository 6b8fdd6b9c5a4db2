"""What outcomes announce to the vendor's webhook endpoints, and the shape of each payload.

Called by outcomes.services inside the transaction that moves the outcome or the dispute, so the outbox
row commits with the change or not at all (webhooks.services.event_emit).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from accounts.models import Customer
from outcomes.enums import OutcomeStatus
from outcomes.models import Dispute, OutcomeEvent, OutcomeType
from webhooks.events import EventType
from webhooks.services import event_emit, events_emit_from_query


def _outcome(*, pk: int, idempotency_key: str, customer: str, task_id: str, outcome_type: str, status: str,
             timestamp: datetime) -> dict[str, Any]:
    return {"id": pk, "idempotency_key": idempotency_key, "customer": customer, "task_id": task_id,
            "outcome_type": outcome_type, "status": status, "timestamp": timestamp.isoformat()}


def outcome_payload(event: OutcomeEvent) -> dict[str, Any]:
    return _outcome(pk=event.pk, idempotency_key=event.idempotency_key, customer=event.customer.external_id,
                    task_id=event.task_id, outcome_type=event.outcome_type.code, status=event.status,
                    timestamp=event.timestamp)


def outcome_moved_emit(*, event: OutcomeEvent, from_status: str, to_status: str, reason: str) -> None:
    """One outcome's move (outcomes.services._move_one): verified from pending, or reversed."""
    if to_status == OutcomeStatus.VERIFIED and from_status == OutcomeStatus.PENDING:
        type = EventType.OUTCOME_VERIFIED
    elif to_status == OutcomeStatus.REVERSED and from_status != OutcomeStatus.REVERSED:
        type = EventType.OUTCOME_REVERSED
    else:
        return
    payload = outcome_payload(event)
    payload["status"] = to_status
    event_emit(organization_id=event.organization_id, type=type, data={"outcome": payload, "reason": reason})


def outcomes_verified_emit(*, event_ids: Sequence[int], reason: str) -> int:
    """Many outcomes verified by one statement: their payloads built by PostgreSQL, the same shape as
    outcome_payload, and written to the outbox by one INSERT ... SELECT (the ids as one array parameter)."""
    if not event_ids:
        return 0
    query = (
        "SELECT e.organization_id, jsonb_build_object('outcome', jsonb_build_object("
        "'id', e.id, 'idempotency_key', e.idempotency_key, 'customer', c.external_id, 'task_id', e.task_id, "
        "'outcome_type', t.code, 'status', %s::text, 'timestamp', e.timestamp), 'reason', %s::text) "
        f"FROM {OutcomeEvent._meta.db_table} e JOIN {Customer._meta.db_table} c ON c.id = e.customer_id "
        f"JOIN {OutcomeType._meta.db_table} t ON t.id = e.outcome_type_id WHERE e.id = ANY(%s) ORDER BY e.id"
    )
    return events_emit_from_query(type=EventType.OUTCOME_VERIFIED, query=query,
                                  params=[str(OutcomeStatus.VERIFIED), reason, list(event_ids)])


def _dispute(dispute: Dispute, event: OutcomeEvent) -> dict[str, Any]:
    return {"dispute": {
        "id": dispute.pk, "status": dispute.status, "reason": dispute.reason,
        "opened_at": dispute.opened_at.isoformat() if dispute.opened_at else None,
        "resolution_note": dispute.resolution_note,
        "resolved_at": dispute.resolved_at.isoformat() if dispute.resolved_at else None,
    }, "outcome": outcome_payload(event)}


def dispute_opened_emit(*, dispute: Dispute, event: OutcomeEvent) -> None:
    event_emit(organization_id=dispute.organization_id, type=EventType.DISPUTE_OPENED, data=_dispute(dispute, event))


def dispute_resolved_emit(*, dispute: Dispute, event: OutcomeEvent) -> None:
    event_emit(organization_id=dispute.organization_id, type=EventType.DISPUTE_RESOLVED,
               data=_dispute(dispute, event))


def disputes_closed_emit(*, event: OutcomeEvent, resolved_at: datetime) -> None:
    """The disputes a reversal closed (accepted) at `resolved_at`."""
    for dispute in Dispute.objects.filter(outcome_event=event, resolved_at=resolved_at).order_by("pk"):
        dispute_resolved_emit(dispute=dispute, event=event)
