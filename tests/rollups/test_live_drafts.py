"""Live drafts: the beat task folds new events and refreshes the drafts of the customers they changed; a
billing run leaves a draft whose stamp says nothing changed as it is, and computes any other."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

import billing.tasks  # noqa: F401 - registers billing.refresh_customer_drafts (run eagerly in tests)
from billing.models import Invoice, RoiReport
from billing.services.live_drafts import live_drafts_refresh
from billing.services.reconcile import reconcile_customer
from core.periods import Period
from tests.rollups.support import post_outcomes, post_usage, tenant_create, usage_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_beat_task_refreshes_only_the_drafts_whose_rollups_changed() -> None:
    tenant = tenant_create("live")
    current = Period.of(timezone.now())
    stamp = timezone.now() - timedelta(minutes=5)
    first, second = tenant.customers
    post_usage(tenant.organization, [usage_event("k1", "c0", "tokens", "2000000", stamp, "t1", model="a")])
    assert live_drafts_refresh() == 1  # c0 only
    report = RoiReport.objects.get(customer=first, period_start=current.start)
    assert report.cost_to_serve == 5  # 2M tokens at 2.50 per 1M
    assert not Invoice.objects.filter(customer=second).exists()
    assert live_drafts_refresh() == 0  # nothing new
    post_outcomes(tenant.organization, [{"idempotency_key": "o1", "customer": "c1", "outcome": "ticket_resolved",
                                         "task_id": "t7", "timestamp": stamp.isoformat()}])
    assert live_drafts_refresh() == 1  # c1, by its outcome counts
    invoice = Invoice.objects.get(customer=second, period_start=current.start)
    assert invoice.total == invoice.subtotal > 0


def test_a_cycle_that_finds_another_running_leaves_at_once() -> None:
    import psycopg

    from billing.services.live_drafts import CYCLE_LOCK
    from tests.processes import test_database_url as database_url

    tenant = tenant_create("busy")
    post_usage(tenant.organization, [usage_event("k1", "c0", "tokens", "5", timezone.now(), "t1", model="a")])
    with psycopg.connect(database_url()) as other:
        other.execute("SELECT pg_advisory_lock(%s, 0)", [CYCLE_LOCK])
        assert live_drafts_refresh() == 0
        other.execute("SELECT pg_advisory_unlock(%s, 0)", [CYCLE_LOCK])
    assert live_drafts_refresh() == 1


def test_shards_split_the_changed_customers_between_them() -> None:
    tenant = tenant_create("shards", customers=4)
    post_usage(tenant.organization, [usage_event(f"k{n}", f"c{n}", "tokens", "5", timezone.now(), "t1", model="a")
                                     for n in range(4)])
    counts = [live_drafts_refresh(shard=shard, shards=2) for shard in (0, 1)]
    assert counts == [2, 2]
    assert [live_drafts_refresh(shard=shard, shards=2) for shard in (0, 1)] == [0, 0]


def test_a_run_keeps_a_current_draft_and_recomputes_a_stale_one() -> None:
    tenant = tenant_create("stamp")
    customer = tenant.customers[0]
    october = Period(datetime(2026, 10, 1, tzinfo=UTC).date())
    post_usage(tenant.organization, [usage_event("k1", "c0", "tokens", "1000000", datetime(2026, 10, 3, tzinfo=UTC),
                                                 "t1", model="a")])
    draft = reconcile_customer(customer_id=customer.pk, period=october)
    kept = reconcile_customer(customer_id=customer.pk, period=october, reuse_current=True)
    assert kept.updated_at == draft.updated_at and kept.cutoff == draft.cutoff  # left as it was
    post_usage(tenant.organization, [usage_event("k2", "c0", "tokens", "1000000", datetime(2026, 10, 4, tzinfo=UTC),
                                                 "t1", model="a")])
    redone = reconcile_customer(customer_id=customer.pk, period=october, reuse_current=True)
    assert redone.cutoff > draft.cutoff
    assert RoiReport.objects.get(customer=customer, period_start=october.start).cost_to_serve == 5
    kept = reconcile_customer(customer_id=customer.pk, period=october, reuse_current=True)
    assert kept.cutoff == redone.cutoff
    tenant.organization.outcome_types.update(price="3.10")  # configuration moves the stamp too
    assert reconcile_customer(customer_id=customer.pk, period=october, reuse_current=True).cutoff > redone.cutoff


def test_another_customers_reconciliation_leaves_a_drafts_stamp_alone() -> None:
    """Its invoice's taxes, lines and report are its own: they must not make every other draft stale."""
    tenant = tenant_create("neighbours")
    october = Period(datetime(2026, 10, 1, tzinfo=UTC).date())
    post_usage(tenant.organization, [usage_event(f"k{n}", f"c{n}", "tokens", "1000", datetime(2026, 10, 3, tzinfo=UTC),
                                                 "t1", model="a") for n in range(2)])
    post_outcomes(tenant.organization, [{"idempotency_key": f"o{n}", "customer": f"c{n}", "outcome": "ticket_resolved",
                                         "task_id": "t1", "timestamp": "2026-10-03T10:00:00+00:00"} for n in range(2)])
    first, second = tenant.customers
    draft = reconcile_customer(customer_id=first.pk, period=october)
    reconcile_customer(customer_id=second.pk, period=october)
    assert reconcile_customer(customer_id=first.pk, period=october, reuse_current=True).cutoff == draft.cutoff
