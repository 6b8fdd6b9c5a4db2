"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request (headers, body, time)
and answers with a status the test chooses; it can hold one request open to let a test kill the sender."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """`answer(request_number)` gives the status of each request (1-based); `hang_on` holds that request
    open for `hang_seconds` (after recording it) and sets `hanging`."""

    answer: Callable[[int], int] = lambda n: 200
    hang_on: int | None = None
    hang_seconds: float = 0.0
    stall_body: bool = False  # send the status and headers, then stall the body for hang_seconds
    requests: list[Received] = field(default_factory=list)
    hanging: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.monotonic()))
                    number = len(receiver.requests)
                if number == receiver.hang_on:
                    receiver.hanging.set()
                    time.sleep(receiver.hang_seconds)
                status = receiver.answer(number)
                reply = f"status {status} for request {number}".encode()
                if receiver.stall_body:
                    try:
                        self.send_response(status)
                        self.send_header("content-length", "1000")
                        self.end_headers()
                        self.wfile.write(b"\x00partial")
                        self.wfile.flush()
                        time.sleep(receiver.hang_seconds)
                    except OSError:
                        pass
                    return
                try:
                    self.send_response(status)
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender is gone (killed while we held the request)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def ids(self) -> list[str]:
        with self._lock:
            return [request.headers["webhook-id"] for request in self.requests]
