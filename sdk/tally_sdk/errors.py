"""Typed errors raised to the caller of the SDK."""

from __future__ import annotations


class TallyError(Exception):
    """Base class of every error the SDK raises."""


class BufferFullError(TallyError):
    """The buffer is full and the overflow policy is "raise" (or "block" timed out)."""


class ClientClosedError(TallyError):
    """An event was recorded after ``Client.close()``."""


class TransportError(TallyError):
    """The request never got an HTTP answer (connection refused, reset, timeout...)."""
