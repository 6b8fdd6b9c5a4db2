"""Tally client SDK: record usage and outcome events; they are batched and delivered
in the background with retries, idempotently.

    import tally_sdk
    with tally_sdk.Client(api_key="tk_...", base_url="https://tally.example.com") as client:
        with client.task("ticket-123", customer="acme"):
            client.usage(meter="gpu_seconds", quantity="12.5", properties={"gpu": "h100"})
            client.outcome(outcome="ticket_resolved")
"""

from .buffer import Kind, Overflow
from .client import Client
from .context import TaskScope, current_task, task
from .delivery import FailedEvent, RejectedEvent
from .errors import BufferFullError, ClientClosedError, TallyError, TransportError
from .events import format_quantity, format_timestamp, new_idempotency_key
from .stats import Stats
from .transport import ApiResponse

__version__ = "0.1.0"

__all__ = [
    "ApiResponse",
    "BufferFullError",
    "Client",
    "ClientClosedError",
    "FailedEvent",
    "Kind",
    "Overflow",
    "RejectedEvent",
    "Stats",
    "TallyError",
    "TaskScope",
    "TransportError",
    "current_task",
    "format_quantity",
    "format_timestamp",
    "new_idempotency_key",
    "task",
]
