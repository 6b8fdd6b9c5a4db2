"""The rollup job folds each committed usage event once, whatever order transactions commit in, and the
rollup reads equal the raw-event reads through late events, replays and rate changes."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from rollups.selectors import outcome_counts, task_costs_rolled
from rollups.services import rollups_advance
from tests.processes import test_database_url as database_url
from tests.rollups.support import (
    OCTOBER,
    SEPTEMBER,
    post_outcomes,
    post_usage,
    rate_add,
    reads_differ,
    tenant_create,
    usage_event,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _rolled_events(organization_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(events), 0) FROM rollups_usage WHERE organization_id = %s",
                       [organization_id])
        return int(cursor.fetchone()[0])


def _batch(prefix: str, day: int, month: int = 10) -> list[dict[str, object]]:
    stamp = datetime(2026, month, day, 9, tzinfo=UTC)
    return [
        usage_event(f"{prefix}-1", "c0", "tokens", "1200", stamp, "t1", model="a"),
        usage_event(f"{prefix}-2", "c0", "tokens", "800.5", stamp.replace(hour=10), "t1", model="b"),
        usage_event(f"{prefix}-3", "c0", "tokens", "300", stamp, None, model="zzz"),
        usage_event(f"{prefix}-4", "c1", "calls", "1", stamp, "t2"),
        usage_event(f"{prefix}-5", "c1", "peak", "17", stamp, "t2"),
        usage_event(f"{prefix}-6", "c1", "seats", str(day), stamp.replace(hour=day % 24), "t2"),
        usage_event(f"{prefix}-7", "c0", "users", "1", stamp, "t3", user=f"u{day % 3}"),
    ]


def test_each_committed_event_is_folded_once_and_reads_equal_the_raw_events() -> None:
    tenant = tenant_create("fold")
    assert post_usage(tenant.organization, _batch("a", 3))["accepted"] == 7
    first = rollups_advance(organization_id=tenant.organization.pk)
    assert first.events == 7
    assert post_usage(tenant.organization, _batch("b", 5) + _batch("a", 3))["accepted"] == 7  # a replay
    assert post_usage(tenant.organization, _batch("late", 28, month=9))["accepted"] == 7  # the month before
    assert reads_differ(tenant, [OCTOBER, SEPTEMBER]) == []  # rollups plus tail, before the pass
    assert rollups_advance(organization_id=tenant.organization.pk).events == 14
    assert rollups_advance(organization_id=tenant.organization.pk).events == 0  # nothing new: nothing twice
    assert _rolled_events(tenant.organization.pk) == 21
    assert reads_differ(tenant, [OCTOBER, SEPTEMBER]) == []


def test_without_a_latest_meter_the_fold_keeps_the_same_figures() -> None:
    tenant = tenant_create("nolatest", latest=False)
    batch = [event for event in _batch("a", 3) + _batch("b", 9) if event["meter"] != "seats"]
    post_usage(tenant.organization, batch[:6])
    rollups_advance(organization_id=tenant.organization.pk)
    post_usage(tenant.organization, batch[6:])
    assert reads_differ(tenant, [OCTOBER]) == []
    rollups_advance(organization_id=tenant.organization.pk)
    assert _rolled_events(tenant.organization.pk) == 12
    assert reads_differ(tenant, [OCTOBER]) == []


def _usage(meter: Any) -> tuple[Any, ...]:
    return (meter.meter.code, meter.events_today, meter.quantity_today, meter.events_period, meter.quantity_period,
            meter.last_event_at)


@pytest.mark.parametrize("unique", [False, True])
def test_the_usage_summary_from_the_daily_rollups_equals_the_raw_one(unique: bool) -> None:
    """With a unique_count meter too: its distinct users today and this period, some of them seen both
    before the job's pass and in the tail (counted once)."""
    from metering.selectors import usage_summary
    from rollups.selectors import usage_summary_rolled

    tenant = tenant_create("summary", unique=unique)
    now = timezone.now()
    events = [event for event in _batch("a", 2) + _batch("b", 3) if unique or event["meter"] != "users"]
    for n, event in enumerate(events):  # today, earlier this period, and the period before
        event["timestamp"] = (now - timedelta(days=(0, 1, 40)[n % 3], minutes=n)).isoformat()
    if unique:  # the same users folded and in the tail, today and earlier
        events[4:4] = [usage_event(f"u-{n}", "c0", "users", "1", now - timedelta(days=days, minutes=n), "t3",
                                   user=user) for n, (days, user) in enumerate([(0, "ann"), (1, "bob"), (0, "cy")])]
        events += [usage_event(f"u-{n}", "c0", "users", "1", now - timedelta(days=days, minutes=n), "t4", user=user)
                   for n, (days, user) in enumerate([(1, "ann"), (0, "bob"), (0, "cy"), (0, "dee")], start=3)]
    post_usage(tenant.organization, events[:5])
    rollups_advance(organization_id=tenant.organization.pk)
    post_usage(tenant.organization, events[5:])  # the tail
    for customer in tenant.customers:
        raw = usage_summary(organization_id=tenant.organization.pk, customer_id=customer.pk, now=now)
        rolled = usage_summary_rolled(organization_id=tenant.organization.pk, customer_id=customer.pk, now=now)
        assert rolled.today == raw.today and rolled.period == raw.period
        assert [_usage(m) for m in rolled.meters] == [_usage(m) for m in raw.meters]


def test_an_event_committed_after_a_later_one_is_still_folded_once() -> None:
    """The slow transaction draws its xid first, the fast one commits first and is folded; the slow one's
    event is folded by the next pass, not skipped (as an id watermark would skip it) nor counted twice."""
    tenant = tenant_create("order")
    organization = tenant.organization
    customer, meter = tenant.customers[0], organization.meters.get(code="tokens")
    with psycopg.connect(database_url()) as slow:
        slow.execute(
            "INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, task_id, quantity, timestamp,"
            " properties, idempotency_key) VALUES (%s, %s, %s, 't9', 5, '2026-10-09T00:00:00Z', '{}', 'slow')",
            [organization.pk, customer.pk, meter.pk],
        )
        post_usage(organization, _batch("fast", 4))
        assert rollups_advance(organization_id=organization.pk).events == 7
        slow.commit()
    assert rollups_advance(organization_id=organization.pk).events == 1
    assert rollups_advance(organization_id=organization.pk).events == 0
    assert _rolled_events(organization.pk) == 8
    assert reads_differ(tenant, [OCTOBER]) == []


def test_a_rate_with_an_earlier_effective_date_re_rates_its_period() -> None:
    tenant = tenant_create("rerate")
    post_usage(tenant.organization, _batch("a", 3) + _batch("b", 20))
    rollups_advance(organization_id=tenant.organization.pk)
    rate_add(tenant.organization, "tokens", datetime(2026, 10, 10, tzinfo=UTC), "9.75", {"model": "a"})
    rate_add(tenant.organization, "peak", datetime(2026, 10, 15, tzinfo=UTC), "0.5")
    # The reshaped card: the rollups decline (the raw events answer) until the job's next pass.
    assert task_costs_rolled(organization_id=tenant.organization.pk, customer_id=tenant.customers[0].pk,
                             period=OCTOBER, cutoff=timezone.now()) is None
    result = rollups_advance(organization_id=tenant.organization.pk)
    assert result.regrouped_periods == ["2026-10"]
    assert reads_differ(tenant, [OCTOBER]) == []
    rate_add(tenant.organization, "tokens", datetime(2026, 1, 1, tzinfo=UTC), "1", {"region": "eu"})  # a new key
    assert rollups_advance(organization_id=tenant.organization.pk).regrouped_periods == ["2026-10"]
    assert _rolled_events(tenant.organization.pk) == 14
    assert reads_differ(tenant, [OCTOBER]) == []


def test_outcome_counts_follow_inserts_and_status_moves() -> None:
    import billing.tasks  # noqa: F401 - registers the drafts refresh a reversal sends
    from outcomes.services import outcome_event_reverse

    tenant = tenant_create("outcomes")
    stamp = datetime(2026, 10, 7, tzinfo=UTC).isoformat()
    post_outcomes(tenant.organization, [
        {"idempotency_key": f"o{i}", "customer": "c0", "outcome": "ticket_resolved", "task_id": f"t{i}",
         "timestamp": stamp} for i in range(5)
    ])
    customer = tenant.customers[0]
    counts = outcome_counts(organization_id=tenant.organization.pk, customer_id=customer.pk, period=OCTOBER)
    assert [(c.status, c.count) for c in counts] == [("pending", 5)]
    rollups_advance(organization_id=tenant.organization.pk)
    outcome_event_reverse(organization=tenant.organization, idempotency_key="o1", reason="reopened")
    counts = outcome_counts(organization_id=tenant.organization.pk, customer_id=customer.pk, period=OCTOBER)
    assert sorted((c.status, c.count) for c in counts) == [("pending", 4), ("reversed", 1)]
    assert rollups_advance(organization_id=tenant.organization.pk).outcome_deltas == 2
    counts = outcome_counts(organization_id=tenant.organization.pk, customer_id=customer.pk, period=OCTOBER)
    assert sorted((c.status, c.count) for c in counts) == [("pending", 4), ("reversed", 1)]
