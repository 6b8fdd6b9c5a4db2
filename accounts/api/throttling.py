"""Per-key rate limits: a fixed-window counter in the shared cache, one round trip per request.

Two budgets per key: `ingest` for batches of events (checked by the ingestion fast path, outside
DRF) and `api` for every other call (DRF's throttle hook). Over the limit the answer is 429 with
Retry-After, the seconds left in the window. If the cache is away, requests pass: a rate limit
protects the service, it must not take ingestion down with Redis.
"""

import logging
import math
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

INGEST = "ingest"
API = "api"
CALLBACK = "callback"  # a verification source's signed callbacks, per source (no API key to count them by)
_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_of(scope: str) -> tuple[int, int]:
    """(requests, seconds) from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope], e.g. "600/min"."""
    rate = str(api_settings.DEFAULT_THROTTLE_RATES[scope])
    num, period = rate.split("/")
    return int(num), _DURATIONS[period.strip()[0]]


def _count(key: str, ttl: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # INCR and EXPIRE in one pipeline: one round trip, and the window's key always expires.
        name = backend.make_and_validate_key(key)
        client = backend._cache.get_client(name, write=True)
        pipe = client.pipeline()
        pipe.incr(name)
        pipe.expire(name, ttl)
        count, _ = pipe.execute()
        return int(count)
    if backend.add(key, 1, ttl):
        return 1
    return backend.incr(key)


def rate_limit_wait(*, api_key_id: int | str, scope: str) -> int | None:
    """Count one request of the key (or of another caller's identity, e.g. a verification source's
    callback path); the seconds to wait when it is over its limit, else None."""
    limit, seconds = rate_of(scope)
    now = time.time()
    window = int(now // seconds)
    try:
        count = _count(f"rate:{scope}:{api_key_id}:{window}", seconds + 1)
    except Exception:
        logger.warning("rate limit not checked: the cache is unavailable", exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * seconds - now))


def rate_limit_check(*, api_key_id: int, scope: str) -> None:
    """Raise Throttled (429 with Retry-After) when the key is over its limit."""
    wait = rate_limit_wait(api_key_id=api_key_id, scope=scope)
    if wait is not None:
        raise exceptions.Throttled(wait=wait, detail=f"Rate limit exceeded; retry in {wait} s.")


class ApiKeyRateThrottle(BaseThrottle):
    """DRF's hook for every API view but the ingestion POSTs: the key's `api` budget."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        api_key = getattr(request.user, "api_key", None)
        if api_key is None:  # anonymous: refused by authentication, not counted
            return True
        self._wait = rate_limit_wait(api_key_id=api_key.pk, scope=API)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def document_rate_limits(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every API operation may answer 429 with Retry-After."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            operation["responses"].setdefault("429", {
                "description": "Rate limit of the API key exceeded; retry after the seconds in Retry-After.",
                "headers": {"Retry-After": {"schema": {"type": "integer"},
                                            "description": "Seconds until the key's window resets."}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            })
    return result
