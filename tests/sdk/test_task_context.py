"""client.task(): stamping task_id and customer, isolated per thread and per asyncio task."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
import tally_sdk

from tally_fake_server import FakeTally

pytestmark: list[Any] = []

MakeClient = Callable[..., tally_sdk.Client]


def test_events_inside_a_task_are_stamped(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    with client.task("ticket-123", customer="acme"):
        client.usage(meter="llm_tokens", quantity=5)
        client.outcome(outcome="ticket_resolved")
    client.usage(customer="other", meter="llm_tokens", quantity=1)

    assert client.flush(timeout=5)

    stamped = [(e["customer"], e.get("task_id")) for e in server.events()]
    assert sorted(stamped, key=str) == sorted(
        [("acme", "ticket-123"), ("acme", "ticket-123"), ("other", None)], key=str
    )


def test_explicit_arguments_win_over_the_scope(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    with client.task("t-1", customer="acme"):
        client.usage(meter="m", quantity=1, customer="globex", task_id="t-2")
    assert client.flush(timeout=5)
    [event] = server.events()
    assert (event["customer"], event["task_id"]) == ("globex", "t-2")


def test_nested_tasks_inherit_the_customer_and_restore_on_exit() -> None:
    with tally_sdk.task("outer", customer="acme"):
        with tally_sdk.task("inner"):
            assert tally_sdk.current_task() == tally_sdk.TaskScope("inner", "acme")
        assert tally_sdk.current_task() == tally_sdk.TaskScope("outer", "acme")
    assert tally_sdk.current_task() is None


def test_the_scope_is_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError):
        with tally_sdk.task("t"):
            raise RuntimeError
    assert tally_sdk.current_task() is None


def test_an_outcome_needs_a_task_and_a_customer(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    with pytest.raises(ValueError, match="task_id"):
        client.outcome(customer="acme", outcome="done")
    with pytest.raises(ValueError, match="customer"):
        client.usage(meter="m", quantity=1)
    with client.task("t"), pytest.raises(ValueError, match="customer"):
        client.outcome(outcome="done")


def test_threads_each_see_only_their_own_task(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        with client.task(f"task-{n}", customer=f"cust-{n}"):
            barrier.wait()  # every thread is inside its own scope at the same moment
            for _ in range(25):
                client.usage(meter="m", quantity=n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert client.flush(timeout=5)

    events = server.events()
    assert len(events) == 100
    assert all(
        e["task_id"] == f"task-{e['quantity']}" and e["customer"] == f"cust-{e['quantity']}" for e in events
    )


def test_a_new_thread_does_not_inherit_the_callers_task() -> None:
    seen: list[Any] = []
    with tally_sdk.task("parent"):
        thread = threading.Thread(target=lambda: seen.append(tally_sdk.current_task()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_asyncio_tasks_are_isolated(server: FakeTally, make_client: MakeClient) -> None:
    client = make_client(server.url)

    async def handle(n: int) -> None:
        with client.task(f"job-{n}", customer="acme"):
            await asyncio.sleep(0.01 * (3 - n))  # interleave the tasks
            client.usage(meter="m", quantity=n)
            await asyncio.sleep(0)
            client.outcome(outcome="done")

    async def main() -> None:
        await asyncio.gather(*(handle(n) for n in range(3)))

    asyncio.run(main())
    assert client.flush(timeout=5)

    usage = server.events("/api/v1/usage-events")
    assert {(e["quantity"], e["task_id"]) for e in usage} == {("0", "job-0"), ("1", "job-1"), ("2", "job-2")}
    assert sorted(e["task_id"] for e in server.events("/api/v1/outcome-events")) == [
        "job-0",
        "job-1",
        "job-2",
    ]
