"""Old usage events are exported and removed per organization after its retention, never before the
month's invoices are final; the month's partition goes once it is empty."""

import gzip
from datetime import UTC, date, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from billing.services.finalize import invoice_finalize
from billing.services.reconcile import reconcile_customer
from core.periods import Period
from metering.partitions import partition_name, usage_retention_set
from tests.rollups.support import Tenant, post_usage, tenant_create, usage_event

pytestmark = pytest.mark.django_db
OLD = Period(date(2025, 1, 1))
TODAY = date(2026, 11, 29)


def _with_old_events(slug: str) -> Tenant:
    tenant = tenant_create(slug, customers=1)
    post_usage(tenant.organization, [
        usage_event(f"{slug}-{i}", "c0", "tokens", "1000", datetime(2025, 1, 5 + i, tzinfo=UTC), f"t{i}", model="a")
        for i in range(3)
    ])
    return tenant


def _finalize(tenant: Tenant) -> None:
    invoice = reconcile_customer(customer_id=tenant.customers[0].pk, period=OLD)
    invoice_finalize(invoice=invoice)


def _rows(organization_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partition_name(OLD.start)} WHERE organization_id = %s",
                       [organization_id])
        return int(cursor.fetchone()[0])


def _partition_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition_name(OLD.start)])
        return cursor.fetchone()[0] is not None


def test_events_leave_only_after_retention_and_final_invoices(tmp_path: Path) -> None:
    billed, open_, recent = _with_old_events("billed"), _with_old_events("open"), _with_old_events("recent")
    _finalize(billed)
    _finalize(recent)
    usage_retention_set(organization_id=recent.organization.pk, months=36)  # not due before 2028

    out = StringIO()
    call_command("archive_usage", "--export-dir", str(tmp_path), "--today", TODAY.isoformat(), stdout=out)
    assert "billed 2025-01: 3 events" in out.getvalue()
    assert _rows(billed.organization.pk) == 0
    assert _rows(open_.organization.pk) == 3  # its invoice is still a draft
    assert _rows(recent.organization.pk) == 3  # its retention has not passed
    with gzip.open(tmp_path / "billed" / "usage-2025-01.csv.gz", "rt") as exported:
        lines = exported.read().splitlines()
    assert lines[0].startswith("id,organization_id,customer_id") and len(lines) == 4
    assert _partition_exists()

    _finalize(open_)
    usage_retention_set(organization_id=recent.organization.pk, months=12)
    call_command("archive_usage", "--export-dir", str(tmp_path), "--today", TODAY.isoformat(), stdout=StringIO())
    assert not _partition_exists()  # empty, so detached and dropped
