"""The Tally client: record events from any thread, a background thread delivers them."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from . import context, events, llm
from .buffer import KINDS, EventBuffer, Kind, Overflow
from .delivery import Deliverer, FailedEvent, OnFailed, OnRejected, RejectedEvent, RetryPolicy
from .stats import Stats, StatsCounter
from .transport import Transport

logger = logging.getLogger("tally_sdk")

MAX_BATCH = 1000  # the API answers 413 above this many events per request


class Client:
    """Buffered, batching, retrying client of the Tally ingestion API.

    When the API is down, events wait in a buffer of ``max_buffer`` events; once it is
    full, ``overflow`` decides: ``"block"`` makes ``usage()``/``outcome()`` wait for room
    (up to ``block_timeout``, then BufferFullError), ``"drop_oldest"`` discards the oldest
    buffered event (counted in ``stats.dropped`` and logged), ``"raise"`` raises
    BufferFullError at once. A batch is tried ``1 + max_retries`` times; after that, or
    when ``close()`` runs out of time, its events land in ``failed`` and ``on_failed``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        batch_size: int = MAX_BATCH,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        overflow: Overflow = "block",
        block_timeout: float | None = None,
        max_retries: int = 8,
        timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        gzip_min_bytes: int | None = 1024,
        on_rejected: OnRejected | None = None,
        on_failed: OnFailed | None = None,
        max_kept: int = 10_000,
        register_atexit: bool = True,
        close_timeout: float = 10.0,
    ) -> None:
        api_key = api_key or os.environ.get("TALLY_API_KEY")
        base_url = base_url or os.environ.get("TALLY_BASE_URL")
        if not api_key:
            raise ValueError("api_key is required (or set TALLY_API_KEY)")
        if not base_url:
            raise ValueError("base_url is required (or set TALLY_BASE_URL)")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        if flush_interval <= 0 or max_retries < 0 or timeout <= 0:
            raise ValueError("flush_interval and timeout must be > 0, max_retries >= 0")
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._close_timeout = close_timeout
        self._buffer = EventBuffer(max_size=max_buffer, overflow=overflow, block_timeout=block_timeout)
        self._stats = StatsCounter()
        self._abort = threading.Event()
        self._deliverer = Deliverer(
            transport=Transport(base_url=base_url, api_key=api_key, timeout=timeout),
            policy=RetryPolicy(max_retries, backoff_base, backoff_max),
            stats=self._stats,
            abort=self._abort,
            gzip_min_bytes=gzip_min_bytes,
            max_kept=max_kept,
            on_rejected=on_rejected,
            on_failed=on_failed,
        )
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tally-sdk-sender", daemon=True)
        self._thread.start()
        self._atexit_registered = register_atexit
        if register_atexit:
            atexit.register(self._close_at_exit)

    # -- recording -----------------------------------------------------------------

    def usage(
        self,
        *,
        meter: str,
        quantity: events.Quantity,
        customer: str | None = None,
        task_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: events.Timestamp = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Queue a usage event; return its idempotency key."""
        scope = context.current_task()
        event = events.build_usage(
            customer=_pick(customer, scope.customer if scope else None, "customer"),
            meter=meter,
            quantity=quantity,
            task_id=task_id if task_id is not None else (scope.task_id if scope else None),
            properties=properties,
            timestamp=timestamp,
            idempotency_key=idempotency_key,
        )
        return self._enqueue("usage", event)

    def outcome(
        self,
        *,
        outcome: str,
        customer: str | None = None,
        task_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: events.Timestamp = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Queue an outcome event; return its idempotency key. ``task_id`` is required
        here or from an enclosing ``task()`` scope."""
        scope = context.current_task()
        event = events.build_outcome(
            customer=_pick(customer, scope.customer if scope else None, "customer"),
            outcome=outcome,
            task_id=_pick(task_id, scope.task_id if scope else None, "task_id"),
            properties=properties,
            timestamp=timestamp,
            idempotency_key=idempotency_key,
        )
        return self._enqueue("outcome", event)

    def record_llm_usage(
        self,
        response_or_usage: Any,
        *,
        customer: str | None = None,
        task_id: str | None = None,
        model: str | None = None,
        meter: str = llm.DEFAULT_METER,
        properties: Mapping[str, Any] | None = None,
        timestamp: events.Timestamp = None,
    ) -> list[str]:
        """Queue token usage from an OpenAI or Anthropic response (or its usage block).

        Returns the idempotency keys, one per non-zero direction.
        """
        kwargs_list = llm.usage_from_response(
            response_or_usage,
            model=model,
            customer=customer,
            task_id=task_id,
            meter=meter,
            properties=properties,
        )
        # One instant for all directions: they describe the same call.
        when = events.format_timestamp(timestamp)
        return [self.usage(**kwargs, timestamp=when) for kwargs in kwargs_list]

    def task(self, task_id: str, *, customer: str | None = None) -> AbstractContextManager[context.TaskScope]:
        """``with client.task("ticket-123", customer="acme"):`` stamps events recorded inside."""
        return context.task(task_id, customer=customer)

    def retry_failed(self) -> int:
        """Queue the failed events again, with their original keys (safe: no double count)."""
        # Pop a fixed count: the sender may append new failures (even these same events,
        # if the API is still down) meanwhile, and those must stay for the next call.
        count = len(self._deliverer.failed)
        for _ in range(count):
            item = self._deliverer.failed.popleft()
            self._enqueue(item.kind, item.event)
        return count

    def _enqueue(self, kind: Kind, event: events.Event) -> str:
        dropped = self._buffer.put(kind, event)
        if dropped:
            self._stats.add(dropped=dropped)
            # Logged on the first drop and then every 1000th, so an outage cannot flood logs.
            total = self._stats.snapshot().dropped
            if total == 1 or total % 1000 == 0:
                logger.warning("tally: buffer full, dropped oldest events (%d so far)", total)
        return str(event["idempotency_key"])

    # -- delivery and lifecycle ----------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every event recorded so far is delivered, rejected, dropped or failed.

        Returns False if ``timeout`` elapsed first.
        """
        if threading.current_thread() is self._thread:
            return False  # called from a callback on the sender thread: waiting would deadlock
        target = self._buffer.request_flush()
        return self._buffer.wait_settled(target, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop the sender thread. Events still undelivered when ``timeout``
        elapses are reported as failed. Returns True if everything was settled in time."""
        if threading.current_thread() is self._thread:
            self._buffer.close()  # from a callback: the sender stops once it has drained
            return False
        with self._close_lock:
            if self._atexit_registered:
                atexit.unregister(self._close_at_exit)
                self._atexit_registered = False
            deadline = None if timeout is None else time.monotonic() + timeout
            self._buffer.close()
            settled = self.flush(timeout)
            if not settled:
                self._abort.set()  # cut retry sleeps short; the sender fails what is left
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._thread.join(remaining if settled else None)
            return settled

    def _close_at_exit(self) -> None:
        self.close(self._close_timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            self._buffer.wait_for_work(self._flush_interval, self._batch_size)
            self._drain()
            if self._buffer.closed and self._buffer.size() == 0:
                return

    def _drain(self) -> None:
        """Send until both queues are empty, alternating kinds so neither starves."""
        while True:
            sent_any = False
            for kind in KINDS:
                batch = self._buffer.take(kind, self._batch_size)
                if not batch:
                    continue
                sent_any = True
                try:
                    self._deliverer.deliver(kind, batch)
                except Exception as error:  # never let one odd answer kill the sender
                    logger.exception("tally: unexpected error delivering %s batch", kind)
                    self._deliverer.fail(kind, batch, f"unexpected error: {error!r}")
                finally:
                    self._buffer.settle(kind)
            if not sent_any:
                return

    # -- introspection -------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A snapshot of the delivery counters."""
        return self._stats.snapshot()

    @property
    def rejected(self) -> list[RejectedEvent]:
        """The most recent rejected events (at most ``max_kept``)."""
        return list(self._deliverer.rejected)

    @property
    def failed(self) -> list[FailedEvent]:
        """The most recent undelivered events (at most ``max_kept``); see ``retry_failed``."""
        return list(self._deliverer.failed)

    @property
    def buffered(self) -> int:
        """Events waiting in the buffer (not counting a batch being sent)."""
        return self._buffer.size()


def _pick(explicit: str | None, from_scope: str | None, name: str) -> str:
    value = explicit if explicit is not None else from_scope
    if value is None:
        raise ValueError(f"{name} is required (pass it, or record inside client.task(...))")
    return value
