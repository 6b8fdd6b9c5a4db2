"""Building the event dicts sent to the API: quantities, timestamps, keys, properties.

Everything is validated here, at the call site, so a bad value raises in the caller's
code instead of surfacing later as a rejection from the background thread.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

Quantity = int | Decimal | str | float
Timestamp = datetime | str | None
Event = dict[str, Any]


def new_idempotency_key() -> str:
    """A fresh random key; generated once per event so every retry re-sends the same one."""
    return str(uuid.uuid4())


def format_quantity(value: Quantity) -> str:
    """Return ``value`` as a plain decimal string (no exponent, never a binary float).

    Floats are accepted for convenience and converted through their shortest repr
    (``0.1`` becomes ``"0.1"``, not ``"0.1000000000000000055..."``); callers that
    care about exactness should pass ``Decimal``, ``int`` or ``str``.
    """
    if isinstance(value, bool):  # bool is an int subclass; True tokens is a bug
        raise TypeError("quantity must be int, Decimal, str or float, not bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"quantity must be finite, got {value!r}")
        value = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"quantity is not a decimal number: {value!r}") from None
    elif not isinstance(value, Decimal):
        raise TypeError(f"quantity must be int, Decimal, str or float, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"quantity must be finite, got {value!r}")
    # "f" formatting never produces an exponent, which a strict decimal parser may refuse.
    return format(value, "f")


def format_timestamp(value: Timestamp) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix; ``None`` means now. Naive datetimes are refused."""
    if value is None:
        dt = datetime.now(timezone.utc)
    elif isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            # Python 3.10's fromisoformat does not know the "Z" suffix.
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp is not RFC 3339: {value!r}") from None
    else:
        raise TypeError(f"timestamp must be datetime or str, not {type(value).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (naive datetimes are ambiguous)")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_timestamp(value)
    raise TypeError(f"property value of type {type(value).__name__} is not JSON serializable")


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON; Decimals become strings so money and quantities stay exact.

    Text is written as UTF-8 rather than \\u escapes: the server's fast path takes bodies without
    backslashes. A lone surrogate, which UTF-8 cannot carry, falls back to escapes.
    """
    text = json.dumps(payload, separators=(",", ":"), default=_json_default, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":"), default=_json_default).encode()


def clean_properties(properties: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy, so later mutation by the caller cannot change a queued event."""
    if properties is None:
        return None
    if not isinstance(properties, Mapping):
        raise TypeError("properties must be a mapping")
    copy: dict[str, Any] = json.loads(dumps(dict(properties)))
    return copy


def _require_str(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _key(idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return new_idempotency_key()
    return _require_str("idempotency_key", idempotency_key)


def build_usage(
    *,
    customer: str,
    meter: str,
    quantity: Quantity,
    task_id: str | None,
    properties: Mapping[str, Any] | None,
    timestamp: Timestamp,
    idempotency_key: str | None,
) -> Event:
    """A usage event in the exact shape of ``POST /api/v1/usage-events``."""
    event: Event = {
        "idempotency_key": _key(idempotency_key),
        "customer": _require_str("customer", customer),
        "meter": _require_str("meter", meter),
        "quantity": format_quantity(quantity),
        "timestamp": format_timestamp(timestamp),
    }
    if task_id is not None:
        event["task_id"] = _require_str("task_id", task_id)
    props = clean_properties(properties)
    if props is not None:
        event["properties"] = props
    return event


def build_outcome(
    *,
    customer: str,
    outcome: str,
    task_id: str,
    properties: Mapping[str, Any] | None,
    timestamp: Timestamp,
    idempotency_key: str | None,
) -> Event:
    """An outcome event in the exact shape of ``POST /api/v1/outcome-events``."""
    event: Event = {
        "idempotency_key": _key(idempotency_key),
        "customer": _require_str("customer", customer),
        "outcome": _require_str("outcome", outcome),
        "task_id": _require_str("task_id", task_id),
        "timestamp": format_timestamp(timestamp),
    }
    props = clean_properties(properties)
    if props is not None:
        event["properties"] = props
    return event
