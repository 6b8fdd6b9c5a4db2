"""A task (the vendor's unit of AI work) as seen from one invoice: its lines there, its outcome claims,
the usage behind its cost. The outcome claims and the usage are read through their apps' selectors."""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from billing.models import Invoice, InvoiceLine
from billing.selectors.invoices import invoice_line_list
from core.errors import NotFound
from core.periods import Period
from metering.selectors import usage_events_filtered
from outcomes.selectors import task_outcome_list

if TYPE_CHECKING:  # types for annotations only: the rows come from the apps' selectors
    from metering.models import UsageEvent
    from outcomes.models import OutcomeEvent

# A task's usage is shown on one page; past this many events the page says how many it left out.
TASK_USAGE_LIMIT = 500


@dataclass(frozen=True)
class TaskView:
    task_id: str
    lines: list[InvoiceLine]
    outcomes: list["OutcomeEvent"]
    usage: list["UsageEvent"]
    usage_total: int
    usage_start: datetime
    usage_end: datetime

    @property
    def usage_truncated(self) -> bool:
        return self.usage_total > len(self.usage)


def task_get(*, invoice: Invoice, task_id: str) -> TaskView:
    """The task's lines on the invoice, all its outcome events, and its usage in the invoice's period.

    The invoice has already been scoped to the viewer; every read here is pinned to its customer.
    """
    lines = list(invoice_line_list(invoice=invoice).filter(task_id=task_id))
    outcomes = task_outcome_list(organization_id=invoice.organization_id, customer_id=invoice.customer_id,
                                 task_id=task_id)
    period = Period(invoice.period_start)
    events = usage_events_filtered(organization_id=invoice.organization_id, customer_id=invoice.customer_id,
                                   task_id=task_id, start=period.start_at, end=period.end_at)
    usage = list(events.select_related("meter").order_by("timestamp", "id")[:TASK_USAGE_LIMIT])
    usage_total = len(usage) if len(usage) < TASK_USAGE_LIMIT else events.count()
    if not lines and not outcomes and not usage:
        raise NotFound(f"No task {task_id!r} for this invoice's customer.", field="task_id")
    return TaskView(task_id, lines, outcomes, usage, usage_total, period.start_at, period.end_at)
