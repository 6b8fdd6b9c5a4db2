"""Typed domain errors: a stable code, a human message, the field at fault, and the HTTP status.

Each code is a member of `ErrorCode` and belongs to one subclass, which fixes its HTTP status; a
caller raises the subclass and never passes a code as a string. They become HTTP answers in one
place, `core.api.exceptions`, and portal pages in `portal.access`.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"
    INVALID_JSON = "invalid_json"
    BAD_ENCODING = "bad_encoding"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_STATE = "invalid_state"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """Input the domain refuses: 400."""

    code: ErrorCode = ErrorCode.INVALID
    status: int = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides its body."""
        return {}

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code.value, "detail": self.message}
        if self.field:
            body["errors"] = {self.field: self.message}
        return body


class InvalidJson(DomainError):
    code = ErrorCode.INVALID_JSON


class BadEncoding(DomainError):
    code = ErrorCode.BAD_ENCODING


class PayloadTooLarge(DomainError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    status = 404


class Conflict(DomainError):
    """The request collides with what exists (a duplicate code, an overlapping version)."""

    code = ErrorCode.CONFLICT
    status = 409


class InvalidState(DomainError):
    """The object is not in a state that allows this (finalizing a void invoice)."""

    code = ErrorCode.INVALID_STATE
    status = 409


class _TryAgainLater(DomainError):
    """An answer that says when to ask again (the `Retry-After` header, in seconds)."""

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_TryAgainLater):
    """Too many requests of one kind in a window: 429."""

    code = ErrorCode.RATE_LIMITED
    status = 429


class ServiceUnavailable(_TryAgainLater):
    """Something the request needs (the database) is away for a moment: 503."""

    code = ErrorCode.UNAVAILABLE
    status = 503
