"""Which invoice lines a portal user may dispute. The dispute itself is the outcomes app's service,
`outcome_event_dispute`, which the task page calls."""

from billing.models import InvoiceLine
from outcomes.enums import OutcomeStatus
from portal.access import Scope

# A customer may dispute an outcome it was, or is about to be, charged for.
DISPUTABLE = {OutcomeStatus.PENDING, OutcomeStatus.VERIFIED, OutcomeStatus.BILLED}


def can_dispute(scope: Scope, line: InvoiceLine) -> bool:
    return (
        not scope.is_vendor
        and line.kind == InvoiceLine.Kind.OUTCOME
        and line.outcome_event is not None
        and line.outcome_event.status in DISPUTABLE
    )

