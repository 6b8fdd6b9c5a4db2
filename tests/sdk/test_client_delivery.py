"""Client delivery against a real HTTP server: batching, retries, rejections, gzip."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import tally_sdk

from tally_fake_server import FakeTally, Scripted, free_port, wait_until

pytestmark: list[Any] = []

USAGE = "/api/v1/usage-events"
OUTCOME = "/api/v1/outcome-events"
MakeClient = Callable[..., tally_sdk.Client]


def test_events_go_to_their_own_endpoint_with_the_bearer_key(
    server: FakeTally, make_client: MakeClient
) -> None:
    client = make_client(server.url)
    usage_key = client.usage(customer="acme", meter="llm_tokens", quantity=10, task_id="t-1")
    outcome_key = client.outcome(customer="acme", outcome="ticket_resolved", task_id="t-1")

    assert client.flush(timeout=5)

    assert [e["idempotency_key"] for e in server.events(USAGE)] == [usage_key]
    assert [e["idempotency_key"] for e in server.events(OUTCOME)] == [outcome_key]
    headers = server.requests[0].headers
    assert headers["Authorization"] == "Bearer test-key"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("tally-sdk-python/")
    assert client.stats.sent == 2 and client.stats.accepted == 2


def test_events_are_sent_in_batches_of_batch_size(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, batch_size=2)
    for i in range(5):
        client.usage(customer="acme", meter="gpu_seconds", quantity=i)

    assert client.flush(timeout=5)

    assert sorted(len(r.events) for r in server.requests) == [1, 2, 2]
    assert [e["quantity"] for e in server.events()] == ["0", "1", "2", "3", "4"]


def test_a_full_batch_is_sent_without_waiting_for_the_interval(
    server: FakeTally, make_client: MakeClient
) -> None:
    client = make_client(server.url, batch_size=3, flush_interval=60)
    for _ in range(3):
        client.usage(customer="acme", meter="m", quantity=1)

    assert wait_until(lambda: len(server.stored) == 3, timeout=3)


def test_the_interval_sends_a_partial_batch(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, flush_interval=0.05)
    client.usage(customer="acme", meter="m", quantity=1)

    assert wait_until(lambda: len(server.stored) == 1, timeout=3)


def test_503_twice_then_200_resends_the_same_body_and_keys(
    server: FakeTally, make_client: MakeClient
) -> None:
    server.script.extend([Scripted(503), Scripted(503)])
    client = make_client(server.url)
    keys = [client.usage(customer="acme", meter="m", quantity=i) for i in range(3)]

    assert client.flush(timeout=5)

    assert len(server.requests) == 3
    assert all(r.keys == keys for r in server.requests)
    assert len({r.raw for r in server.requests}) == 1  # byte-identical retries
    assert client.stats.retries == 2 and client.stats.accepted == 3 and client.stats.failed == 0


def test_429_waits_for_retry_after(server: FakeTally, make_client: MakeClient) -> None:
    server.script.append(Scripted(429, {"detail": "slow down"}, {"Retry-After": "1"}))
    client = make_client(server.url)
    client.usage(customer="acme", meter="m", quantity=1)

    started = time.monotonic()
    assert client.flush(timeout=5)

    assert time.monotonic() - started >= 0.9
    assert len(server.requests) == 2 and len(server.stored) == 1


def test_a_dropped_connection_is_retried(server: FakeTally, make_client: MakeClient) -> None:
    server.script.append(Scripted(drop=True))
    client = make_client(server.url)
    client.usage(customer="acme", meter="m", quantity=1)

    assert client.flush(timeout=5)

    assert len(server.requests) == 2 and len(server.stored) == 1


def test_a_timeout_after_the_server_stored_the_batch_counts_as_duplicates(
    server: FakeTally, make_client: MakeClient
) -> None:
    # The first request is stored but answered too late: the retry must not double count.
    server.script.append(Scripted(store=True, delay=1.0))
    client = make_client(server.url, timeout=0.3)
    keys = [client.usage(customer="acme", meter="m", quantity=1) for _ in range(3)]

    assert client.flush(timeout=5)

    assert sorted(server.stored) == sorted(keys)
    assert client.stats.duplicates == 3 and client.stats.accepted == 0 and client.stats.retries >= 1


def test_a_server_that_is_down_at_first_gets_the_events_when_it_comes_up(make_client: MakeClient) -> None:
    port = free_port()
    client = make_client(f"http://127.0.0.1:{port}", max_retries=50, backoff_max=0.1)
    keys = [client.usage(customer="acme", meter="m", quantity=1) for _ in range(3)]
    assert client.flush(timeout=0.3) is False  # nothing listens yet: the sender keeps retrying

    later = FakeTally(port=port)
    threading.Timer(0.3, later.start).start()
    try:
        assert client.flush(timeout=10)
        assert sorted(later.stored) == sorted(keys)
        assert client.stats.retries >= 1 and client.stats.failed == 0
    finally:
        later.stop()


def test_400_is_not_retried_and_every_event_is_reported(server: FakeTally, make_client: MakeClient) -> None:
    server.script.append(Scripted(400, {"events": ["Expected a list."]}))
    seen: list[tuple[list[tally_sdk.RejectedEvent], tally_sdk.ApiResponse]] = []
    client = make_client(server.url, on_rejected=lambda events, response: seen.append((events, response)))
    keys = [client.usage(customer="acme", meter="m", quantity=1) for _ in range(2)]

    assert client.flush(timeout=5)

    assert len(server.requests) == 1
    [(events, response)] = seen
    assert [r.event["idempotency_key"] for r in events] == keys
    assert response.status == 400 and events[0].errors == {"events": ["Expected a list."]}
    assert [r.event["idempotency_key"] for r in client.rejected] == keys
    assert client.stats.rejected == 2 and client.stats.retries == 0


def test_a_bad_api_key_is_reported_not_retried(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, api_key="wrong")
    client.outcome(customer="acme", outcome="done", task_id="t")

    assert client.flush(timeout=5)

    assert len(server.requests) == 1
    assert [r.status for r in client.rejected] == [401]


def test_per_event_rejections_in_a_200_answer_name_the_event(
    server: FakeTally, make_client: MakeClient
) -> None:
    server.reject = lambda e: {"meter": "Unknown meter."} if e["meter"] == "nope" else None
    seen: list[tally_sdk.RejectedEvent] = []
    client = make_client(server.url, on_rejected=lambda events, response: seen.extend(events))
    good = client.usage(customer="acme", meter="m", quantity=1)
    bad = client.usage(customer="acme", meter="nope", quantity=1)

    assert client.flush(timeout=5)

    assert list(server.stored) == [good]
    assert [(r.event["idempotency_key"], r.errors, r.status) for r in seen] == [
        (bad, {"meter": "Unknown meter."}, 200)
    ]
    assert client.stats.as_dict() | {"retries": 0} == {
        "sent": 2,
        "accepted": 1,
        "duplicates": 0,
        "rejected": 1,
        "dropped": 0,
        "failed": 0,
        "retries": 0,
    }


def test_413_splits_the_batch_and_keeps_the_keys(server: FakeTally, make_client: MakeClient) -> None:
    server.script.append(Scripted(413, {"detail": "Too large."}))
    client = make_client(server.url)
    keys = [client.usage(customer="acme", meter="m", quantity=1) for _ in range(4)]

    assert client.flush(timeout=5)

    assert [len(r.events) for r in server.requests] == [4, 2, 2]
    assert sorted(server.stored) == sorted(keys)


def test_exhausted_retries_are_reported_as_failed_and_can_be_retried(
    server: FakeTally, make_client: MakeClient
) -> None:
    server.script.extend([Scripted(500)] * 3)
    failures: list[str] = []
    client = make_client(server.url, max_retries=2, on_failed=lambda events, reason: failures.append(reason))
    key = client.usage(customer="acme", meter="m", quantity=1)

    assert client.flush(timeout=5)

    assert len(server.requests) == 3 and not server.stored
    assert [f.event["idempotency_key"] for f in client.failed] == [key]
    assert failures and "HTTP 500" in failures[0]
    assert client.stats.failed == 1 and client.stats.retries == 2

    assert client.retry_failed() == 1
    assert client.flush(timeout=5)
    assert list(server.stored) == [key] and client.failed == []


def test_a_raising_callback_does_not_stop_delivery(server: FakeTally, make_client: MakeClient) -> None:
    server.reject = lambda e: {"quantity": "Must be positive."} if e["quantity"].startswith("-") else None

    def explode(events: Any, response: Any) -> None:
        raise RuntimeError("callback bug")

    client = make_client(server.url, on_rejected=explode)
    client.usage(customer="acme", meter="m", quantity=-1)
    assert client.flush(timeout=5)
    later = client.usage(customer="acme", meter="m", quantity=1)
    assert client.flush(timeout=5)
    assert later in server.stored


def test_large_batches_are_gzipped_and_small_ones_are_not(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, gzip_min_bytes=1024)
    client.usage(customer="acme", meter="m", quantity=1)
    assert client.flush(timeout=5)
    for _ in range(50):
        client.usage(customer="acme", meter="m", quantity=1, properties={"note": "x" * 20})
    assert client.flush(timeout=5)

    small, large = server.requests
    assert "Content-Encoding" not in small.headers
    assert large.headers["Content-Encoding"] == "gzip"
    assert len(large.events) == 50 and len(server.stored) == 51


def test_gzip_can_be_turned_off(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, gzip_min_bytes=None)
    for _ in range(50):
        client.usage(customer="acme", meter="m", quantity=1, properties={"note": "x" * 20})
    assert client.flush(timeout=5)
    assert "Content-Encoding" not in server.requests[0].headers


def test_record_llm_usage_posts_one_event_per_direction(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    response = {
        "type": "message",
        "model": "claude-sonnet-4-5",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 0,
        },
    }
    with client.task("ticket-7", customer="acme"):
        keys = client.record_llm_usage(response)

    assert client.flush(timeout=5)

    events = server.events(USAGE)
    assert [e["idempotency_key"] for e in events] == keys
    assert {(e["properties"]["direction"], e["quantity"]) for e in events} == {
        ("input", "10"),
        ("cached_input", "30"),
        ("output", "20"),
    }
    assert {(e["customer"], e["task_id"], e["meter"]) for e in events} == {("acme", "ticket-7", "llm_tokens")}
    assert len({e["timestamp"] for e in events}) == 1
