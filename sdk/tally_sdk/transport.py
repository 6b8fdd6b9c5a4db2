"""One HTTP POST, standard library only. Retrying is the caller's job (see delivery.py)."""

from __future__ import annotations

import gzip
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import TransportError

USER_AGENT = "tally-sdk-python/0.1.0"


@dataclass(frozen=True)
class ApiResponse:
    """An HTTP answer: status, decoded JSON body (None if not JSON), raw text, headers."""

    status: int
    body: Any
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def retry_after(self) -> float | None:
        """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP-date)."""
        return parse_retry_after(self.headers.get("retry-after"))


def parse_retry_after(value: str | None) -> float | None:
    """Parse ``Retry-After``; None when absent or unreadable, never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def encode_body(payload: Any, *, gzip_min_bytes: int | None, dumps: Any) -> tuple[bytes, bool]:
    """Serialize (and maybe gzip) once, so every retry sends byte-identical bodies."""
    raw = dumps(payload)
    if gzip_min_bytes is None or len(raw) < gzip_min_bytes:
        return raw, False
    # mtime=0 keeps the gzip header deterministic.
    return gzip.compress(raw, compresslevel=6, mtime=0), True


class Transport:
    """Posts JSON bodies to the Tally API with the bearer key."""

    def __init__(self, *, base_url: str, api_key: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        # build_opener keeps the environment's proxy settings, as users of urllib expect.
        self._opener = urllib.request.build_opener()

    def post(self, path: str, body: bytes, *, gzipped: bool) -> ApiResponse:
        """POST ``body``; raise TransportError if no HTTP answer came back."""
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(self._base_url + path, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                return _response(answer.status, answer.read(), answer.headers)
        except urllib.error.HTTPError as error:
            try:
                raw = error.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            return _response(error.code, raw, error.headers)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            # URLError wraps refused connections; OSError covers timeouts and resets mid-read.
            raise TransportError(f"POST {path}: {error}") from error


def _response(status: int, raw: bytes, headers: Any) -> ApiResponse:
    text = raw.decode("utf-8", errors="replace")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    lowered = {k.lower(): v for k, v in (headers.items() if headers is not None else [])}
    return ApiResponse(status=status, body=body, text=text, headers=lowered)
