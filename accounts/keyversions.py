"""One counter in the shared cache that says when any API key changed (revoked, re-scoped).

Each process remembers resolved keys for a while; it reads this counter once per request and
forgets them all when it moved, so a revocation is seen by every worker on the next request.
"""

import logging

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)

VERSION_KEY = "accounts:api-key-version"
# Sentinel for "the shared cache could not answer": callers then skip their per-process memory.
UNKNOWN = -1


def shared_cache_in_use() -> bool:
    """A per-process cache (locmem) is not seen by other workers: a counter there proves nothing."""
    backend = caches["default"]
    return not isinstance(backend, LocMemCache) and type(backend).__name__ != "DummyCache"


def api_key_versions_current() -> int:
    try:
        value = caches["default"].get(VERSION_KEY)
    except Exception:  # the cache is away: the caller falls back to the database, never to stale keys
        logger.warning("cache unavailable; API keys are looked up in the database", exc_info=True)
        return UNKNOWN
    return int(value) if value is not None else 0


def api_key_versions_bump() -> None:
    try:
        if not caches["default"].add(VERSION_KEY, 1, timeout=None):
            caches["default"].incr(VERSION_KEY)
    except Exception:
        # Workers that cannot read the counter look keys up in the database, so a revoked key still
        # fails there; those that can read it keep their memory until it expires (30 s).
        logger.error("could not announce an API key change in the shared cache", exc_info=True)
