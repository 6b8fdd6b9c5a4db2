"""Fixtures for the SDK tests: a fake API on 127.0.0.1 (test_end_to_end.py starts the real server)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SDK_DIR = HERE.parents[1] / "sdk"
for path in (HERE, SDK_DIR):  # works whatever pytest's import mode, installed or not
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# A proxy from the environment must not intercept requests to the in-process server.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import tally_sdk  # noqa: E402

from tally_fake_server import API_KEY, FakeTally  # noqa: E402


@pytest.fixture
def server() -> Iterator[FakeTally]:
    fake = FakeTally().start()
    yield fake
    fake.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., tally_sdk.Client]]:
    """Build clients with fast backoff; every one is closed at teardown."""
    clients: list[tally_sdk.Client] = []

    def build(base_url: str, **options: Any) -> tally_sdk.Client:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "flush_interval": 60.0,  # tests flush explicitly unless they test the timer
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "timeout": 2.0,
            "register_atexit": False,
        }
        settings.update(options)
        client = tally_sdk.Client(base_url=base_url, **settings)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close(timeout=5)
