"""Sending one batch: retries with backoff, and reading the API's verdict on each event.

Every attempt re-sends the same bytes, hence the same idempotency keys, so a batch that
reached the server before a timeout is counted as duplicates, not twice.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .buffer import Kind
from .errors import TransportError
from .events import Event, dumps
from .stats import StatsCounter
from .transport import ApiResponse, Transport, encode_body

logger = logging.getLogger("tally_sdk")

PATHS: dict[Kind, str] = {"usage": "/api/v1/usage-events", "outcome": "/api/v1/outcome-events"}
RETRYABLE_STATUSES = frozenset({408, 429})
# A Retry-After beyond this is treated as this, so a misconfigured proxy cannot park us for hours.
RETRY_AFTER_CAP = 300.0


@dataclass(frozen=True)
class RejectedEvent:
    """An event the API refused; ``errors`` maps field names to messages."""

    kind: Kind
    event: Event
    errors: dict[str, Any]
    status: int


@dataclass(frozen=True)
class FailedEvent:
    """An event that never got an answer: retries exhausted or the client closed first."""

    kind: Kind
    event: Event
    reason: str


OnRejected = Callable[[list[RejectedEvent], ApiResponse], None]
OnFailed = Callable[[list[FailedEvent], str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    max_retries: int
    backoff_base: float
    backoff_max: float

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(retry_after, RETRY_AFTER_CAP)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


class Deliverer:
    """Sends batches and routes every event to accepted, duplicate, rejected or failed."""

    def __init__(
        self,
        *,
        transport: Transport,
        policy: RetryPolicy,
        stats: StatsCounter,
        abort: threading.Event,
        gzip_min_bytes: int | None,
        max_kept: int,
        on_rejected: OnRejected | None,
        on_failed: OnFailed | None,
    ) -> None:
        self._transport = transport
        self._policy = policy
        self._stats = stats
        self._abort = abort
        self._gzip_min_bytes = gzip_min_bytes
        self._on_rejected = on_rejected
        self._on_failed = on_failed
        self.rejected: deque[RejectedEvent] = deque(maxlen=max_kept)
        self.failed: deque[FailedEvent] = deque(maxlen=max_kept)

    def deliver(self, kind: Kind, events: list[Event]) -> None:
        """Send ``events`` until they get a final answer or retries run out."""
        body, gzipped = encode_body({"events": events}, gzip_min_bytes=self._gzip_min_bytes, dumps=dumps)
        attempt = 0
        while True:
            if self._abort.is_set():
                self.fail(kind, events, "client closed before delivery")
                return
            retry_after: float | None = None
            try:
                response = self._transport.post(PATHS[kind], body, gzipped=gzipped)
            except TransportError as error:
                problem = str(error)
            else:
                if 200 <= response.status < 300:
                    self._read_verdict(kind, events, response)
                    return
                if response.status == 413 and len(events) > 1:
                    # Too large a body: halves keep their keys, so nothing can double count.
                    middle = len(events) // 2
                    self.deliver(kind, events[:middle])
                    self.deliver(kind, events[middle:])
                    return
                if response.status not in RETRYABLE_STATUSES and response.status < 500:
                    self._reject_batch(kind, events, response)
                    return
                problem = f"HTTP {response.status}"
                retry_after = response.retry_after
            if attempt >= self._policy.max_retries:
                self.fail(kind, events, f"gave up after {attempt + 1} attempts: {problem}")
                return
            delay = self._policy.delay(attempt, retry_after)
            logger.warning(
                "tally: %s batch of %d failed (%s); retry %d in %.2fs",
                kind,
                len(events),
                problem,
                attempt + 1,
                delay,
            )
            attempt += 1
            self._stats.add(retries=1)
            if self._abort.wait(delay):
                self.fail(kind, events, f"client closed while retrying: {problem}")
                return

    def _read_verdict(self, kind: Kind, events: list[Event], response: ApiResponse) -> None:
        body = response.body if isinstance(response.body, dict) else {}
        self._stats.add(
            sent=len(events),
            accepted=int(body.get("accepted", 0)),
            duplicates=int(body.get("duplicates", 0)),
        )
        if "accepted" not in body:
            logger.warning("tally: unexpected %s answer: %.200s", kind, response.text)
        rejected = []
        for item in body.get("rejected") or []:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and 0 <= index < len(events):
                errors = item.get("errors") or {}
                rejected.append(RejectedEvent(kind, events[index], errors, response.status))
        if rejected:
            self._report_rejected(rejected, response)

    def _reject_batch(self, kind: Kind, events: list[Event], response: ApiResponse) -> None:
        if isinstance(response.body, dict):
            errors = response.body
        else:
            errors = {"detail": response.text[:500]}
        rejected = [RejectedEvent(kind, event, errors, response.status) for event in events]
        self._report_rejected(rejected, response)

    def _report_rejected(self, rejected: list[RejectedEvent], response: ApiResponse) -> None:
        self._stats.add(rejected=len(rejected))
        self.rejected.extend(rejected)
        first = rejected[0]
        logger.error(
            "tally: %d %s event(s) rejected (HTTP %d), first %s: %s",
            len(rejected),
            first.kind,
            response.status,
            first.event.get("idempotency_key"),
            first.errors,
        )
        if self._on_rejected is not None:
            try:
                self._on_rejected(rejected, response)
            except Exception:  # a buggy callback must not kill the sender thread
                logger.exception("tally: on_rejected callback raised")

    def fail(self, kind: Kind, events: list[Event], reason: str) -> None:
        """Record events that will not be delivered; they stay in ``failed`` for inspection."""
        if not events:
            return
        failed = [FailedEvent(kind, event, reason) for event in events]
        self._stats.add(failed=len(failed))
        self.failed.extend(failed)
        logger.error("tally: %d %s event(s) not delivered: %s", len(failed), kind, reason)
        if self._on_failed is not None:
            try:
                self._on_failed(failed, reason)
            except Exception:
                logger.exception("tally: on_failed callback raised")
