"""Buffer bounds, overflow policies, flush and close."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import tally_sdk

from tally_fake_server import FakeTally, Scripted, free_port, wait_until

pytestmark: list[Any] = []

MakeClient = Callable[..., tally_sdk.Client]


def record(client: tally_sdk.Client, n: int) -> list[str]:
    return [client.usage(customer="acme", meter="m", quantity=i) for i in range(n)]


def test_overflow_raise_refuses_the_event_that_does_not_fit(
    server: FakeTally, make_client: MakeClient
) -> None:
    # With a long interval and large batches the sender idles, so the buffer only fills.
    client = make_client(server.url, max_buffer=3, overflow="raise")
    keys = record(client, 3)

    with pytest.raises(tally_sdk.BufferFullError):
        client.usage(customer="acme", meter="m", quantity=1)

    assert client.buffered == 3
    assert client.close(timeout=5)
    assert sorted(server.stored) == sorted(keys)


def test_overflow_drop_oldest_keeps_the_newest_and_counts_drops(
    server: FakeTally, make_client: MakeClient
) -> None:
    client = make_client(server.url, max_buffer=3, overflow="drop_oldest")
    keys = record(client, 3)
    keys.append(client.outcome(customer="acme", outcome="done", task_id="t"))
    keys.append(client.usage(customer="acme", meter="m", quantity=9))

    assert client.close(timeout=5)

    assert sorted(server.stored) == sorted(keys[2:])
    assert client.stats.dropped == 2


def test_overflow_block_waits_for_room_then_proceeds(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, max_buffer=2, overflow="block")
    record(client, 2)
    third: list[str] = []
    producer = threading.Thread(
        target=lambda: third.append(client.usage(customer="acme", meter="m", quantity=3))
    )
    producer.start()

    time.sleep(0.2)
    assert producer.is_alive() and client.buffered == 2  # blocked, nothing lost
    assert client.flush(timeout=5)
    producer.join(timeout=5)

    assert not producer.is_alive()
    assert client.flush(timeout=5)
    assert len(server.stored) == 3 and third[0] in server.stored


def test_overflow_block_gives_up_after_block_timeout(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, max_buffer=1, overflow="block", block_timeout=0.1)
    record(client, 1)
    started = time.monotonic()

    with pytest.raises(tally_sdk.BufferFullError):
        client.usage(customer="acme", meter="m", quantity=1)

    assert time.monotonic() - started >= 0.09


def test_a_producer_blocked_on_a_full_buffer_is_released_by_close(make_client: MakeClient) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", max_buffer=1, overflow="block", max_retries=0)
    record(client, 1)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            client.usage(customer="acme", meter="m", quantity=1)
        except tally_sdk.ClientClosedError as error:
            errors.append(error)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.1)
    client.close(timeout=5)
    producer.join(timeout=5)

    # The blocked event is refused to its caller; the buffered one is reported as failed.
    assert len(errors) == 1
    assert client.stats.failed == 1


def test_invalid_overflow_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="overflow"):
        tally_sdk.Client(api_key="k", base_url="http://x", overflow="spill", register_atexit=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1001])
def test_batch_size_must_fit_the_api_limit(size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        tally_sdk.Client(api_key="k", base_url="http://x", batch_size=size, register_atexit=False)


def test_api_key_and_base_url_can_come_from_the_environment(
    server: FakeTally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALLY_API_KEY", "test-key")
    monkeypatch.setenv("TALLY_BASE_URL", server.url)
    with tally_sdk.Client(register_atexit=False) as client:
        key = client.usage(customer="acme", meter="m", quantity=1)
    assert key in server.stored


def test_flush_times_out_while_the_api_is_down(make_client: MakeClient) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", max_retries=1000, backoff_max=0.05)
    record(client, 2)

    started = time.monotonic()
    assert client.flush(timeout=0.3) is False
    assert time.monotonic() - started < 2
    assert client.close(timeout=0.2) is False


def test_flush_waits_for_the_batch_in_flight(server: FakeTally, make_client: MakeClient) -> None:
    server.script.append(Scripted(200, {"accepted": 1, "duplicates": 0, "rejected": []}, delay=0.3))
    client = make_client(server.url, flush_interval=0.01)
    record(client, 1)
    assert wait_until(lambda: len(server.requests) == 1)  # the batch is now in flight

    assert client.flush(timeout=5)
    assert client.stats.sent == 1


def test_close_flushes_then_refuses_new_events(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    keys = record(client, 5)

    assert client.close(timeout=5)

    assert sorted(server.stored) == sorted(keys)
    with pytest.raises(tally_sdk.ClientClosedError):
        client.usage(customer="acme", meter="m", quantity=1)
    assert client.close(timeout=1)  # closing twice is harmless


def test_close_with_the_api_down_reports_what_was_not_delivered(make_client: MakeClient) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", max_retries=1000, backoff_max=0.05)
    keys = record(client, 3)
    outcome_key = client.outcome(customer="acme", outcome="done", task_id="t")

    started = time.monotonic()
    assert client.close(timeout=0.3) is False
    assert time.monotonic() - started < 3

    assert sorted(f.event["idempotency_key"] for f in client.failed) == sorted([*keys, outcome_key])
    assert client.stats.failed == 4


def test_the_context_manager_closes_the_client(server: FakeTally) -> None:
    with tally_sdk.Client(api_key="test-key", base_url=server.url, register_atexit=False) as client:
        key = client.usage(customer="acme", meter="m", quantity=1)
    assert key in server.stored
    with pytest.raises(tally_sdk.ClientClosedError):
        client.usage(customer="acme", meter="m", quantity=1)


def test_many_threads_recording_at_once_lose_nothing(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url, batch_size=100, flush_interval=0.01, max_buffer=50)
    keys: list[str] = []
    lock = threading.Lock()

    def produce() -> None:
        mine = record(client, 200)
        with lock:
            keys.extend(mine)

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert client.flush(timeout=10)
    assert len(keys) == 1600 and sorted(server.stored) == sorted(keys)
    assert client.stats.accepted == 1600 and client.stats.dropped == 0


def test_close_from_a_callback_on_the_sender_thread_does_not_deadlock(
    server: FakeTally, make_client: MakeClient
) -> None:
    server.reject = lambda e: {"meter": "Unknown meter."}
    holder: list[tally_sdk.Client] = []
    results: list[bool] = []
    client = make_client(
        server.url,
        on_rejected=lambda events, response: results.extend([holder[0].flush(), holder[0].close()]),
    )
    holder.append(client)
    client.usage(customer="acme", meter="nope", quantity=1)

    assert client.flush(timeout=5)
    assert results == [False, False]
    with pytest.raises(tally_sdk.ClientClosedError):
        client.usage(customer="acme", meter="m", quantity=1)
