"""Stripe's wire format as the stand-in speaks it: the error envelope, bracketed form parameters,
the webhook signature, and the checks of parameters each resource accepts."""

import hashlib
import hmac
from typing import Any

Json = dict[str, Any]


class StripeError(Exception):
    """An answer in Stripe's error envelope."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
            self.body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["error"]["param"] = param


def form_decode(pairs: list[tuple[str, str]]) -> Json:
    """`a[b][0][c]=v` pairs into nested dicts; a dict whose keys are all indexes becomes a list."""
    root: Json = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head] + (rest[:-1].split("][") if rest else [])
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(400, f"Invalid array or hash: {key}", code="parameter_invalid", param=key)
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature` header: HMAC-SHA256 of "timestamp.payload" under the endpoint secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def public(obj: Json) -> Json:
    """The object as Stripe answers it: private bookkeeping keys dropped, an invoice's lines as a list of
    the first ten (the rest are listed at GET /v1/invoices/{id}/lines, as Stripe does)."""
    public = {key: value for key, value in obj.items() if not key.startswith("_")}
    if obj["object"] == "invoice":
        public["lines"] = {"object": "list", "data": obj["_lines"][:10], "has_more": len(obj["_lines"]) > 10,
                           "total_count": len(obj["_lines"]), "url": f"/v1/invoices/{obj['id']}/lines"}
    return public


def allowed(params: Json, names: set[str], *, prefix: str = "") -> None:
    for name in params:
        if name not in names:
            shown = f"{prefix}[{name}]" if prefix else name
            raise StripeError(400, f"Received unknown parameter: {shown}", code="parameter_unknown", param=shown)


def metadata_merge(current: Json, update: Any) -> Json:
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise StripeError(400, "Invalid hash", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if len(key) > 40 or len(value) > 500:
            raise StripeError(400, "Metadata keys are 40 characters at most and values 500.", param=f"metadata[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def as_bool(value: str, param: str) -> bool:
    if value in {"true", "false"}:
        return value == "true"
    raise StripeError(400, f"Invalid boolean: {value}", param=param)


def as_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param) from None
