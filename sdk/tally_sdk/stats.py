"""Thread-safe delivery counters, read through immutable snapshots."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Stats:
    """Counts of events (``retries`` counts HTTP requests re-sent).

    sent: events in batches the API answered 2xx; accepted / duplicates / rejected as the
    API reported them (rejected also counts whole-batch 4xx); dropped: removed by the
    ``drop_oldest`` overflow policy; failed: given up after ``max_retries`` or at close.
    """

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    failed: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for logging or metrics export)."""
        return asdict(self)


class StatsCounter:
    """The mutable side of ``Stats``; every update takes one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {f.name: 0 for f in fields(Stats)}

    def add(self, **deltas: int) -> None:
        """Add each delta to its counter (unknown names raise KeyError)."""
        with self._lock:
            for name, delta in deltas.items():
                if name not in self._values:
                    raise KeyError(name)
                self._values[name] += delta

    def snapshot(self) -> Stats:
        """A consistent copy of all counters."""
        with self._lock:
            return Stats(**self._values)
