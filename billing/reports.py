"""Temporary: `portal/views/tasks.py` (another engineer's file) still imports these names from here.
Delete this module once it imports `invoice_get`, `invoice_line_get` (billing.selectors.invoices) and
`task_get` (billing.selectors.tasks) instead; every other read moved to `billing.selectors`."""

from billing.selectors.invoices import invoice_get as invoice_for_page
from billing.selectors.invoices import invoice_line_get
from billing.selectors.tasks import task_get as task_view

__all__ = ["invoice_for_page", "invoice_line_get", "task_view"]
