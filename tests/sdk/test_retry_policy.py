"""Backoff arithmetic and Retry-After parsing, without any network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from tally_sdk.delivery import RETRY_AFTER_CAP, RetryPolicy
from tally_sdk.transport import parse_retry_after

pytestmark: list[Any] = []


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    policy = RetryPolicy(max_retries=10, backoff_base=0.5, backoff_max=30.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (6, 30.0), (20, 30.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_retries=3, backoff_base=0.5, backoff_max=1.0)
    assert policy.delay(0, 7.0) == 7.0
    assert policy.delay(0, 10_000.0) == RETRY_AFTER_CAP


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), (" 0 ", 0.0), ("-3", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    future = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 31
    past = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past) == 0.0
