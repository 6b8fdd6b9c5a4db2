"""The SDK against the real production server: gunicorn (2 workers) on the pytest-django test database.

What the fake server cannot prove is proven here: the server's own deduplication, its verdicts,
and a server killed in the middle of a stream, with every event stored exactly once.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tally_sdk
from django.db import connection
from metering.models import UsageEvent
from outcomes.models import OutcomeEvent
from tests.factories import MeterFactory, OutcomeTypeFactory
from tests.processes import PrivatePostgres, start_gunicorn, stop_gunicorn
from tests.processes import test_database_url as database_url  # named so pytest collects no test from it

from tally_fake_server import free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass
class Gunicorn:
    """One production server on a fixed port; `kill()` then `start()` is a restart on the same port."""

    port: int
    log_path: Path
    process: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_gunicorn(port=self.port, log_path=self.log_path, workers=2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None:
            stop_gunicorn(self.process, sig)
            self.process = None

    def kill_mid_request(self, attempts: int = 200) -> bool:
        """SIGKILL the server while a client connection to it is open (a request in flight).

        Freezes the process group with SIGSTOP until a connection is caught open, then kills it.
        Returns whether one was caught (else the kill happened between requests).
        """
        assert self.process is not None
        caught = False
        for _ in range(attempts):
            os.killpg(self.process.pid, signal.SIGSTOP)
            if open_connections_to(self.port):
                caught = True
                break
            os.killpg(self.process.pid, signal.SIGCONT)
            time.sleep(0.002)
        self.kill(signal.SIGKILL)
        return caught

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@pytest.fixture
def billing_setup(vendor: Any) -> Iterator[Any]:
    """The vendor with meter `llm_tokens` and outcome type `ticket_resolved`.

    The usage tables are plain SQL (unmanaged), so the test database flush leaves them alone:
    the rows this test's organization wrote are deleted here.
    """
    MeterFactory.create(organization=vendor.organization)
    OutcomeTypeFactory.create(organization=vendor.organization)
    yield vendor
    with connection.cursor() as cursor:
        for table in ("metering_usageevent", "metering_usagekey"):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [vendor.organization.pk])


def _run_gunicorn(log_path: Path) -> Iterator[Gunicorn]:
    gunicorn = Gunicorn(port=free_port(), log_path=log_path)
    gunicorn.start()
    try:
        yield gunicorn
    finally:
        gunicorn.kill(signal.SIGKILL)


@pytest.fixture(scope="module")
def shared_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """One server for the module (it only needs the test database to exist): booting is the slow part."""
    yield from _run_gunicorn(tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")


@pytest.fixture
def server(billing_setup: Any, shared_server: Gunicorn) -> Gunicorn:
    """The shared server, running: a restart test replaces its process, a failed one may leave it down."""
    if shared_server.process is None or shared_server.process.poll() is not None:
        shared_server.kill()
        shared_server.start()
    return shared_server


def open_connections_to(port: int) -> int:
    """Established TCP connections from a client to 127.0.0.1:`port` (Linux /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[2].split(":")[1], 16) == port:
            count += 1
    return count


def make_client(vendor: Any, base_url: str, **options: Any) -> tally_sdk.Client:
    settings: dict[str, Any] = {
        "api_key": vendor.api.raw_key,
        "base_url": base_url,
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "timeout": 10.0,
        "register_atexit": False,
    }
    settings.update(options)
    return tally_sdk.Client(**settings)


def stored_usage(vendor: Any) -> list[UsageEvent]:
    rows = UsageEvent.objects.filter(organization=vendor.organization).select_related("meter", "customer")
    return list(rows)


def stored_outcomes(vendor: Any) -> list[OutcomeEvent]:
    return list(OutcomeEvent.objects.filter(organization=vendor.organization).select_related("outcome_type"))


# -- a whole stream, every field checked ---------------------------------------------------------------


def test_a_stream_of_usage_and_outcomes_is_stored_exactly_once_with_its_fields(
    billing_setup: Any, server: Gunicorn
) -> None:
    vendor = billing_setup
    expected: dict[str, dict[str, Any]] = {}  # idempotency key -> what the row must hold
    outcome_tasks: dict[str, str] = {}  # idempotency key -> task id
    client = make_client(vendor, server.url, batch_size=500, flush_interval=0.2)
    try:
        # 250 tasks, each one OpenAI call (3 directions), one Anthropic call (4) and an outcome.
        for t in range(250):
            task_id = f"ticket-{t}"
            with client.task(task_id, customer="acme"):
                openai_keys = client.record_llm_usage({
                    "model": "gpt-4o",
                    "usage": {"prompt_tokens": 1000 + t, "completion_tokens": 200,
                              "prompt_tokens_details": {"cached_tokens": 300}},
                })
                anthropic_keys = client.record_llm_usage({
                    "type": "message", "model": "claude-sonnet-4",
                    "usage": {"input_tokens": 40 + t, "output_tokens": 90, "cache_read_input_tokens": 500,
                              "cache_creation_input_tokens": 60},
                })
                outcome_tasks[client.outcome(outcome="ticket_resolved")] = task_id
            for key, (direction, quantity) in zip(
                openai_keys, [("input", 700 + t), ("cached_input", 300), ("output", 200)], strict=True
            ):
                expected[key] = {"task_id": task_id, "quantity": Decimal(quantity),
                                 "properties": {"model": "gpt-4o", "direction": direction}}
            for key, (direction, quantity) in zip(
                anthropic_keys,
                [("input", 40 + t), ("cached_input", 500), ("cache_write", 60), ("output", 90)],
                strict=True,
            ):
                expected[key] = {"task_id": task_id, "quantity": Decimal(quantity),
                                 "properties": {"model": "claude-sonnet-4", "direction": direction}}
        # 3,249 plain events: int, Decimal and str quantities, with and without a task; and a timed one.
        quantities: list[Any] = [7, Decimal("0.000000000001"), "123456789.5"]
        for i in range(3249):
            quantity = quantities[i % 3]
            plain_task = f"job-{i % 40}" if i % 2 else None
            key = client.usage(customer="acme", meter="llm_tokens", quantity=quantity, task_id=plain_task,
                               properties={"gpu": "h100", "n": i, "price": Decimal("1.50")})
            expected[key] = {"task_id": plain_task, "quantity": Decimal(str(quantity)),
                             "properties": {"gpu": "h100", "n": i, "price": "1.50"}}
        timed_key = client.usage(customer="acme", meter="llm_tokens", quantity=1, task_id="timed",
                                 timestamp="2026-11-03T10:15:00.250+01:00", idempotency_key="vendor-row-42")

        assert client.flush(timeout=30), server.log_tail()
        stats = client.stats
    finally:
        client.close(timeout=10)

    assert len(expected) == 4999 and timed_key == "vendor-row-42"
    rows = {row.idempotency_key: row for row in stored_usage(vendor)}
    assert UsageEvent.objects.filter(organization=vendor.organization).count() == len(rows) == 5000
    assert set(rows) == set(expected) | {timed_key}
    for key, want in expected.items():
        row = rows[key]
        assert (row.customer.external_id, row.meter.code) == ("acme", "llm_tokens")
        assert (row.task_id, row.quantity, row.properties) == (want["task_id"], want["quantity"],
                                                               want["properties"]), key
    timed = rows[timed_key]
    assert timed.timestamp.isoformat() == "2026-11-03T09:15:00.250000+00:00"
    # Tokens per task add up to what the providers billed: nothing double-counted by the helpers.
    ticket_7 = [row for row in rows.values() if row.task_id == "ticket-7"]
    assert len(ticket_7) == 7 and sum(row.quantity for row in ticket_7) == (1007 + 200) + (47 + 90 + 500 + 60)

    outcomes = {row.idempotency_key: row for row in stored_outcomes(vendor)}
    assert len(outcomes) == OutcomeEvent.objects.filter(organization=vendor.organization).count() == 250
    assert {key: row.task_id for key, row in outcomes.items()} == outcome_tasks
    assert {row.outcome_type.code for row in outcomes.values()} == {"ticket_resolved"}

    assert stats.accepted == stats.sent == 5000 + 250
    assert (stats.duplicates, stats.rejected, stats.failed, stats.dropped) == (0, 0, 0, 0)
    assert client.rejected == [] and client.failed == []


# -- the server killed mid-stream and restarted on the same port -----------------------------------------


class Recorder:
    """Records events from a background thread, as a vendor's service would, until stopped."""

    def __init__(self, client: tally_sdk.Client) -> None:
        self.client = client
        self.usage_keys: list[str] = []
        self.outcome_keys: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()

    def _run(self) -> None:
        i = 0
        try:
            while not self._stop.is_set():
                with self.client.task(f"task-{i // 10}", customer="acme"):
                    if i % 10 == 9:
                        self.outcome_keys.append(self.client.outcome(outcome="ticket_resolved"))
                    else:
                        self.usage_keys.append(
                            self.client.usage(meter="llm_tokens", quantity=i, properties={"i": i})
                        )
                i += 1
                if i % 10 == 0:
                    time.sleep(0.01)  # up to ~1k events/s, a batch of 100 about every 0.1 s
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.errors.append(error)


@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_server_restart_mid_stream_loses_nothing_and_doubles_nothing(
    billing_setup: Any, server: Gunicorn, kill_signal: int, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = billing_setup
    caplog.set_level(logging.WARNING, logger="tally_sdk")
    client = make_client(vendor, server.url, batch_size=100, flush_interval=0.01, max_retries=100,
                         backoff_base=0.02, backoff_max=0.25, timeout=5.0)
    recorder = Recorder(client).start()
    try:
        assert wait_until(lambda: client.stats.accepted >= 1000, timeout=20), server.log_tail()
        if kill_signal == signal.SIGKILL:  # the whole process group (master, workers), a request in flight
            assert server.kill_mid_request(), "no request caught in flight"
        else:  # graceful: gunicorn finishes the requests in flight, then stops listening
            server.kill(signal.SIGTERM)
        accepted_at_kill = client.stats.accepted
        time.sleep(0.3)  # the API is down; the recorder keeps recording into the buffer
        server.start()  # a new server on the same port
        back = wait_until(lambda: client.stats.accepted >= accepted_at_kill + 1000, timeout=30)
        assert back, server.log_tail()
        recorder.stop()
        assert client.flush(timeout=30), server.log_tail()
        stats = client.stats
    finally:
        recorder.stop()
        client.close(timeout=10)

    assert recorder.errors == []
    recorded = recorder.usage_keys + recorder.outcome_keys
    # At least the 1,000 accepted before the kill and the 1,000 after (accepted never exceeds recorded).
    assert len(recorded) == len(set(recorded)) >= 2000
    usage_rows = [row.idempotency_key for row in stored_usage(vendor)]
    outcome_rows = [row.idempotency_key for row in stored_outcomes(vendor)]
    # Nothing lost, nothing doubled: each recorded key is one row, and there is no other row.
    assert len(usage_rows) == len(recorder.usage_keys) and set(usage_rows) == set(recorder.usage_keys)
    assert len(outcome_rows) == len(recorder.outcome_keys) and set(outcome_rows) == set(recorder.outcome_keys)

    assert stats.retries > 0  # the restart was noticed...
    assert (stats.failed, stats.rejected, stats.dropped) == (0, 0, 0)  # ...and nothing given up on
    # A batch committed by a dying server but never answered is re-sent and comes back as duplicates:
    # the client counts it once, as a duplicate, never as a second accepted event.
    assert stats.sent == stats.accepted + stats.duplicates == len(recorded)
    retry_reasons = [r.getMessage() for r in caplog.records if "; retry " in r.getMessage()]
    assert retry_reasons, "no retry was logged"
    if kill_signal == signal.SIGKILL:  # the request in flight was cut, not merely refused
        assert any("Connection refused" not in reason for reason in retry_reasons), retry_reasons


# -- an answer lost after the server committed: the retry must come back as duplicates ----------------------


class LossyProxy:
    """A TCP proxy to the server that, for the first request to each listed path, lets the server
    answer and then resets the client's connection instead of passing the answer on."""

    def __init__(self, upstream_port: int, drop_paths: set[str]) -> None:
        self.upstream_port = upstream_port
        self.drop_paths = set(drop_paths)
        self.requests: list[str] = []
        self.dropped: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            path = request.split(b" ", 2)[1].decode()
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                upstream.sendall(request)
                answer = _read_until_closed(upstream)  # gunicorn's sync workers close after each answer
            with self._lock:
                self.requests.append(path)
                drop = path in self.drop_paths
                self.drop_paths.discard(path)
                if drop:
                    self.dropped.append(path)
            if drop:
                # Linger 0: close with a reset, as when the server dies before its answer is out.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return
            conn.sendall(answer)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    # Ask for a closed connection so the answer's end is the socket's end.
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:"))
    return head + b"\r\nConnection: close\r\n\r\n" + body


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_an_answer_lost_after_the_commit_is_retried_and_counted_as_duplicates(
    billing_setup: Any, server: Gunicorn
) -> None:
    vendor = billing_setup
    proxy = LossyProxy(server.port, drop_paths={"/api/v1/usage-events", "/api/v1/outcome-events"})
    client = make_client(vendor, proxy.url, batch_size=100, flush_interval=60, backoff_base=0.01)
    try:
        usage_keys = [client.usage(customer="acme", meter="llm_tokens", quantity=i, task_id="t")
                      for i in range(300)]
        outcome_keys = [client.outcome(customer="acme", outcome="ticket_resolved", task_id=f"t{i}")
                        for i in range(20)]
        assert client.flush(timeout=30), server.log_tail()
        stats = client.stats
    finally:
        client.close(timeout=10)
        proxy.close()

    assert sorted(proxy.dropped) == ["/api/v1/outcome-events", "/api/v1/usage-events"]
    assert sorted(row.idempotency_key for row in stored_usage(vendor)) == sorted(usage_keys)
    assert sorted(row.idempotency_key for row in stored_outcomes(vendor)) == sorted(outcome_keys)
    # The first usage batch (100) and the outcome batch (20) were stored, their answers lost;
    # their retries were answered "duplicates" and stored nothing more.
    assert stats.retries == 2
    assert (stats.accepted, stats.duplicates) == (320 - 120, 120)
    assert stats.sent == 320 and stats.failed == stats.rejected == 0


# -- rejections from the real server ---------------------------------------------------------------------


def test_an_unknown_meter_is_rejected_with_the_field_named_and_not_retried(
    billing_setup: Any, server: Gunicorn
) -> None:
    vendor = billing_setup
    proxy = LossyProxy(server.port, drop_paths=set())  # drops nothing; counts the requests
    seen: list[Any] = []
    client = make_client(vendor, proxy.url, flush_interval=60,
                         on_rejected=lambda events, response: seen.append((events, response.status)))
    try:
        good = [client.usage(customer="acme", meter="llm_tokens", quantity=1) for _ in range(3)]
        bad = client.usage(customer="acme", meter="no_such_meter", quantity=5, task_id="t-9")
        assert client.flush(timeout=30), server.log_tail()
        stats = client.stats
        rejected = client.rejected
    finally:
        client.close(timeout=10)
        proxy.close()

    assert [r.event["idempotency_key"] for r in rejected] == [bad]
    assert rejected[0].kind == "usage" and rejected[0].status == 200
    assert "meter" in rejected[0].errors and "no_such_meter" in rejected[0].errors["meter"]
    assert len(seen) == 1 and seen[0][1] == 200
    assert proxy.requests == ["/api/v1/usage-events"]  # one request: a rejection is final
    assert (stats.retries, stats.accepted, stats.rejected, stats.duplicates) == (0, 3, 1, 0)
    assert sorted(row.idempotency_key for row in stored_usage(vendor)) == sorted(good)


def test_a_wrong_api_key_rejects_the_whole_batch_without_retrying(
    billing_setup: Any, server: Gunicorn
) -> None:
    vendor = billing_setup
    proxy = LossyProxy(server.port, drop_paths=set())
    client = make_client(vendor, proxy.url, api_key="tk_wrong", flush_interval=60)
    try:
        keys = [client.usage(customer="acme", meter="llm_tokens", quantity=1) for _ in range(2)]
        assert client.flush(timeout=30)
        stats = client.stats
        rejected = client.rejected
    finally:
        client.close(timeout=10)
        proxy.close()

    assert [r.event["idempotency_key"] for r in rejected] == keys
    assert {r.status for r in rejected} == {401}
    assert proxy.requests == ["/api/v1/usage-events"]
    assert (stats.retries, stats.rejected, stats.accepted) == (0, 2, 0)
    assert stored_usage(vendor) == []


def test_a_chunked_body_without_content_length_is_read_whole(server: Gunicorn, billing_setup: Any) -> None:
    events = [{"idempotency_key": f"chunked-{i}", "customer": "acme", "meter": "llm_tokens", "quantity": "3",
               "timestamp": "2026-10-05T10:00:00Z"} for i in range(300)]
    body = json.dumps({"events": events}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = (body[i:i + 4096] for i in range(0, len(body), 4096))
    connection.request("POST", "/api/v1/usage-events", body=chunks, encode_chunked=True, headers={
        "Authorization": f"Bearer {billing_setup.api.raw_key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"accepted": 300, "duplicates": 0, "rejected": []})
    assert len(stored_usage(billing_setup)) == 300


# -- the database restarted mid-stream: 503 with Retry-After, the SDK waits as asked, nothing lost -----------


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throwaway cluster of the test's own (never the machine's), which the test stops and starts."""
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.close()


def _post_usage_now(port: int, raw_key: str) -> tuple[int, str | None]:
    body = json.dumps({"events": [{"idempotency_key": "probe", "customer": "acme", "meter": "llm_tokens",
                                   "quantity": 1, "timestamp": "2026-10-10T12:00:00Z"}]})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/api/v1/usage-events", body,
                     {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def test_a_database_restart_mid_stream_answers_503_and_loses_nothing(
    billing_setup: Any, private_postgres: PrivatePostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = billing_setup
    private_postgres.copy_database(source_url=database_url(), name="tally")
    server = Gunicorn(port=free_port(), log_path=tmp_path / "gunicorn.log")
    server.process = start_gunicorn(port=server.port, log_path=server.log_path, workers=2,
                                    DATABASE_URL=private_postgres.url("tally"))
    caplog.set_level(logging.WARNING, logger="tally_sdk")
    client = make_client(vendor, server.url, batch_size=100, flush_interval=0.01, max_retries=100,
                         backoff_base=0.02, backoff_max=0.25, timeout=5.0)
    recorder = Recorder(client).start()
    try:
        assert wait_until(lambda: client.stats.accepted >= 500, timeout=20), server.log_tail()
        private_postgres.stop("fast")  # ends every session, as a restart does
        away = _post_usage_now(server.port, vendor.api.raw_key)
        time.sleep(1.0)  # the recorder keeps recording; the SDK's batches get 503s
        private_postgres.start()
        accepted_at_restart = client.stats.accepted
        back = wait_until(lambda: client.stats.accepted >= accepted_at_restart + 500, timeout=30)
        assert back, server.log_tail() + private_postgres.log_tail()
        recorder.stop()
        assert client.flush(timeout=30), server.log_tail()
        stats = client.stats
    finally:
        recorder.stop()
        client.close(timeout=10)
        server.kill()

    assert away[0] == 503 and away[1] is not None and int(away[1]) >= 1, away
    access_log = server.log_path.read_text(errors="replace")
    assert '" 503 ' in access_log
    assert '" 500 ' not in access_log  # never a 500, not even on the first request after the restart
    assert recorder.errors == []
    with psycopg.connect(private_postgres.url("tally")) as db:
        usage_rows = [key for (key,) in db.execute(
            "SELECT idempotency_key FROM metering_usageevent WHERE organization_id = %s AND idempotency_key <> "
            "'probe'", [vendor.organization.pk])]
        outcome_rows = [key for (key,) in db.execute(
            "SELECT idempotency_key FROM outcomes_outcomeevent WHERE organization_id = %s",
            [vendor.organization.pk])]
    # Every acknowledged event stored once, and nothing else: each recorded key is one row.
    assert len(usage_rows) == len(recorder.usage_keys) and set(usage_rows) == set(recorder.usage_keys)
    assert len(outcome_rows) == len(recorder.outcome_keys) and set(outcome_rows) == set(recorder.outcome_keys)
    assert (stats.failed, stats.rejected, stats.dropped) == (0, 0, 0)
    # The SDK waited as the 503 asked (Retry-After), not its own 0.02-0.25 s backoff.
    retries = [r.getMessage() for r in caplog.records if "HTTP 503" in r.getMessage()]
    assert retries and all(f"in {float(away[1]):.2f}s" in message for message in retries), retries
