"""A per-process memory of lookups that succeeded: names of customers, meters and outcome types, API keys."""

import time
from collections.abc import Callable
from typing import Any


class HitCache:
    """Per-process memory of name -> id lookups that succeeded, for a few seconds.

    Only hits are kept: a customer or meter created a moment ago is found at once, while a renamed
    or deleted one may be used for at most `seconds` more.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[tuple[int, str], tuple[float, Any]] = {}

    def get_many(
        self, organization_id: int, names: set[str], fetch: Callable[[set[str]], dict[str, Any]]
    ) -> dict[str, Any]:
        now = time.monotonic()
        found: dict[str, Any] = {}
        missing: set[str] = set()
        entries = self._entries
        for name in names:
            entry = entries.get((organization_id, name))
            if entry is not None and now - entry[0] < self.seconds:
                found[name] = entry[1]
            else:
                missing.add(name)
        if missing:
            fetched = fetch(missing)
            for name, value in fetched.items():
                self._remember(organization_id, name, value, now)
            found.update(fetched)
        return found

    def get(self, scope: int, name: str, fetch: Callable[[str], Any]) -> Any:
        """The value of one name, or None (a miss, which is not remembered)."""
        entry = self._entries.get((scope, name))
        now = time.monotonic()
        if entry is not None and now - entry[0] < self.seconds:
            return entry[1]
        value = fetch(name)
        if value is None:
            self._entries.pop((scope, name), None)
        else:
            self._remember(scope, name, value, now)
        return value

    def _remember(self, scope: int, name: str, value: Any, now: float) -> None:
        if len(self._entries) > 100_000:  # bound the memory of a process that sees many tenants
            self._entries.clear()
        self._entries[(scope, name)] = (now, value)

    def clear(self) -> None:
        self._entries.clear()


