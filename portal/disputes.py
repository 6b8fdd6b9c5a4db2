"""Disputes from the portal. The dispute itself is the outcomes app's service; the portal only asks for it.

The service is looked up once at import: until the outcomes app ships `outcome_event_dispute`, the
dispute form is hidden and the POST answers 404, so the page never offers what it cannot do.
"""

from billing.models import InvoiceLine
from outcomes import services as outcome_services
from outcomes.models import OutcomeEvent
from portal.access import Scope

DISPUTE_SERVICE = getattr(outcome_services, "outcome_event_dispute", None)

# A customer may dispute an outcome it was, or is about to be, charged for.
DISPUTABLE = {OutcomeEvent.Status.PENDING, OutcomeEvent.Status.VERIFIED, OutcomeEvent.Status.BILLED}


def disputes_enabled() -> bool:
    return DISPUTE_SERVICE is not None


def can_dispute(scope: Scope, line: InvoiceLine) -> bool:
    return (
        disputes_enabled()
        and not scope.is_vendor
        and line.kind == InvoiceLine.Kind.OUTCOME
        and line.outcome_event is not None
        and line.outcome_event.status in DISPUTABLE
    )
