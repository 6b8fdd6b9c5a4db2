"""The per-process cache remembers hits for a while, never misses, and keeps tenants apart."""

from typing import Any

import pytest

from core import cache
from core.cache import HitCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(cache.time, "monotonic", fake)
    return fake


def test_hits_are_remembered_until_they_expire_and_misses_never(clock: Clock) -> None:
    table = {"acme": 1}
    asked: list[set[str]] = []

    def fetch(names: set[str]) -> dict[str, Any]:
        asked.append(set(names))
        return {name: table[name] for name in names if name in table}

    hits = HitCache(seconds=60)
    assert hits.get_many(7, {"acme", "globex"}, fetch) == {"acme": 1}
    table["globex"] = 2
    assert hits.get_many(7, {"acme", "globex"}, fetch) == {"acme": 1, "globex": 2}
    assert asked == [{"acme", "globex"}, {"globex"}]  # the hit was not asked again, the miss was
    clock.now += 61
    table["acme"] = 10
    assert hits.get_many(7, {"acme"}, fetch) == {"acme": 10}


def test_the_same_name_in_two_organizations_is_two_entries(clock: Clock) -> None:
    hits = HitCache(seconds=60)
    hits.get_many(1, {"acme"}, lambda names: {"acme": 100})
    assert hits.get_many(2, {"acme"}, lambda names: {"acme": 200}) == {"acme": 200}
    assert hits.get_many(1, {"acme"}, lambda names: {}) == {"acme": 100}


def test_a_single_lookup_forgets_a_name_that_went_away(clock: Clock) -> None:
    hits = HitCache(seconds=30)
    assert hits.get(0, "key", lambda name: "principal") == "principal"
    assert hits.get(0, "key", lambda name: None) == "principal"  # still fresh
    clock.now += 31
    assert hits.get(0, "key", lambda name: None) is None
    assert hits.get(0, "key", lambda name: "again") == "again"
