"""A tiny in-process imitation of the Tally ingestion API for the SDK tests.

It stores events by idempotency key (so re-sent keys count as duplicates, like the real
server), decodes gzip bodies, checks the bearer key, and can be scripted to answer with
errors, drop connections or stall.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"
PATHS = ("/api/v1/usage-events", "/api/v1/outcome-events")


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any

    @property
    def events(self) -> list[dict[str, Any]]:
        return list(self.body["events"]) if isinstance(self.body, dict) else []

    @property
    def keys(self) -> list[str]:
        return [e["idempotency_key"] for e in self.events]


@dataclass
class Scripted:
    """A canned answer. ``drop`` closes the socket unanswered; ``store`` keeps the events
    first (a request that reached the server although the client never saw the answer)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    store: bool = False


class FakeTally:
    """Start with ``start()``; ``url`` is its base URL; answers follow ``script`` then normal."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Scripted] = deque()
        self.stored: dict[str, dict[str, Any]] = {}
        self.reject: Callable[[dict[str, Any]], dict[str, str] | None] | None = None
        self.lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeTally:
        server = _QuietServer(("127.0.0.1", self._port), _handler_for(self))
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every event received (including re-sent ones), in arrival order."""
        with self.lock:
            return [e for r in self.requests if path in (None, r.path) for e in r.events]

    def answer(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The real contract: store new keys, count known ones as duplicates, reject bad ones."""
        accepted = duplicates = 0
        rejected = []
        with self.lock:
            for index, event in enumerate(events):
                errors = self.reject(event) if self.reject else None
                if errors:
                    rejected.append({"index": index, "errors": errors})
                elif event["idempotency_key"] in self.stored:
                    duplicates += 1
                else:
                    self.stored[event["idempotency_key"]] = event
                    accepted += 1
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


class _QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests, not a failure


def free_port() -> int:
    """A port nothing listens on right now (for a server that comes up later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _handler_for(fake: FakeTally) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            body: Any = json.loads(data) if data else None
            with fake.lock:
                fake.requests.append(Recorded(self.path, dict(self.headers), raw, body))
                step = fake.script.popleft() if fake.script else None
            if step is not None:
                if step.store:
                    fake.answer(body["events"])
                time.sleep(step.delay)
                if step.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._send(step.status, step.body, step.headers)
            elif self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._send(401, {"detail": "Invalid API key."})
            elif self.path not in PATHS:
                self._send(404, {"detail": "Not found."})
            elif len(body["events"]) > 1000:
                self._send(413, {"detail": "Too many events."})
            else:
                self._send(200, fake.answer(body["events"]))

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until true or ``timeout``; for behaviour with no flush() to wait on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
