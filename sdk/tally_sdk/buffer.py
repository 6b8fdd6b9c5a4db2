"""The bounded in-memory buffer between the caller's threads and the sender thread.

Events of both kinds share one capacity and one sequence, so ``drop_oldest`` drops the
globally oldest event and ``flush()`` can wait for "everything recorded before now".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Literal

from .errors import BufferFullError, ClientClosedError
from .events import Event

Kind = Literal["usage", "outcome"]
KINDS: tuple[Kind, ...] = ("usage", "outcome")
Overflow = Literal["block", "drop_oldest", "raise"]
OVERFLOW_POLICIES: tuple[str, ...] = ("block", "drop_oldest", "raise")


class EventBuffer:
    """FIFO queues per kind, a shared bound, and the bookkeeping ``flush()`` waits on."""

    def __init__(self, *, max_size: int, overflow: Overflow, block_timeout: float | None) -> None:
        if max_size < 1:
            raise ValueError("max_buffer must be at least 1")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {OVERFLOW_POLICIES}, got {overflow!r}")
        self._max = max_size
        self._overflow = overflow
        self._block_timeout = block_timeout
        self._cond = threading.Condition()
        self._queues: dict[Kind, deque[tuple[int, Event]]] = {k: deque() for k in KINDS}
        self._size = 0
        self._last_seq = 0
        # Lowest sequence number of the batch being sent, per kind: flush() must also wait for it.
        self._inflight: dict[Kind, int | None] = {k: None for k in KINDS}
        self._flush_requested = False
        self._closed = False

    def put(self, kind: Kind, event: Event) -> int:
        """Queue one event; return how many old events were dropped to make room."""
        with self._cond:
            if self._closed:
                raise ClientClosedError("the client is closed")
            dropped = 0
            if self._size >= self._max:
                if self._overflow == "raise":
                    raise BufferFullError(f"buffer holds {self._size} events (max_buffer)")
                if self._overflow == "drop_oldest":
                    self._drop_oldest()
                    dropped = 1
                else:
                    self._wait_for_room()
            self._last_seq += 1
            self._queues[kind].append((self._last_seq, event))
            self._size += 1
            self._cond.notify_all()
            return dropped

    def _wait_for_room(self) -> None:
        deadline = None if self._block_timeout is None else time.monotonic() + self._block_timeout
        while self._size >= self._max and not self._closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise BufferFullError(f"buffer still full after waiting {self._block_timeout}s")
            self._cond.wait(remaining)
        if self._closed:
            raise ClientClosedError("the client was closed while waiting for buffer room")

    def _drop_oldest(self) -> None:
        heads = [(q[0][0], k) for k, q in self._queues.items() if q]
        _, kind = min(heads)
        self._queues[kind].popleft()
        self._size -= 1

    def size(self, kind: Kind | None = None) -> int:
        """Events waiting (not counting a batch in flight)."""
        with self._cond:
            return self._size if kind is None else len(self._queues[kind])

    def take(self, kind: Kind, limit: int) -> list[Event]:
        """Remove up to ``limit`` events of ``kind``; they count as in flight until ``settle``."""
        with self._cond:
            queue = self._queues[kind]
            batch = [queue.popleft() for _ in range(min(limit, len(queue)))]
            if batch:
                self._inflight[kind] = batch[0][0]
                self._size -= len(batch)
                self._cond.notify_all()  # wakes producers blocked on a full buffer
            return [event for _, event in batch]

    def settle(self, kind: Kind) -> None:
        """The batch of ``kind`` taken last has reached a final state."""
        with self._cond:
            self._inflight[kind] = None
            self._cond.notify_all()

    def wait_for_work(self, timeout: float, batch_size: int) -> None:
        """Sleep until a batch is full, a flush is requested, the buffer closes, or timeout."""
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._closed
                    or self._flush_requested
                    or any(len(q) >= batch_size for q in self._queues.values())
                ),
                timeout,
            )
            self._flush_requested = False

    def request_flush(self) -> int:
        """Ask the sender to drain now; return the sequence number to wait for."""
        with self._cond:
            self._flush_requested = True
            self._cond.notify_all()
            return self._last_seq

    def wait_settled(self, target: int, timeout: float | None) -> bool:
        """Wait until every event with sequence <= ``target`` is delivered, dropped or failed."""
        with self._cond:
            return self._cond.wait_for(lambda: self._lowest_unsettled() > target, timeout)

    def _lowest_unsettled(self) -> int:
        candidates = [q[0][0] for q in self._queues.values() if q]
        candidates += [seq for seq in self._inflight.values() if seq is not None]
        return min(candidates, default=self._last_seq + 1)

    def close(self) -> None:
        """Refuse new events and wake every waiter (blocked producers raise ClientClosedError)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed
