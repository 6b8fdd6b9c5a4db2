"""`manage.py verify_rollups` recomputes a period from the raw events and fails on any difference."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import Customer
from billing.services.reconcile import reconcile_customer
from core.periods import period_parse
from rollups.services import rollups_advance
from tests.rollups.support import post_outcomes, post_usage, tenant_create, usage_event

pytestmark = pytest.mark.django_db(transaction=True)


def _tenant_with_events() -> int:
    tenant = tenant_create("verify")
    stamp = datetime(2026, 10, 4, 8, tzinfo=UTC)
    post_usage(tenant.organization, [
        usage_event("k1", "c0", "tokens", "1000", stamp, "t1", model="a"),
        usage_event("k2", "c1", "peak", "7", stamp, "t2"),
        usage_event("k3", "c1", "users", "1", stamp, "t2", user="ann"),
    ])
    post_outcomes(tenant.organization, [{"idempotency_key": "o1", "customer": "c0", "outcome": "ticket_resolved",
                                         "task_id": "t1", "timestamp": stamp.isoformat()}])
    rollups_advance(organization_id=tenant.organization.pk)
    return tenant.organization.pk


def test_rollups_that_agree_with_the_raw_events_pass() -> None:
    _tenant_with_events()
    out = StringIO()
    call_command("verify_rollups", "--period", "2026-10", "--organization", "verify", stdout=out)
    assert "agree with the raw events" in out.getvalue()


def test_a_rollup_that_drifted_from_the_raw_events_is_reported_and_fails() -> None:
    organization_id = _tenant_with_events()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rollups_usage SET total = total + 1 WHERE organization_id = %s AND task_id = 't1'",
                       [organization_id])
        cursor.execute("UPDATE rollups_outcome_count SET count = count + 2 WHERE organization_id = %s",
                       [organization_id])
    out = StringIO()
    with pytest.raises(CommandError, match="3 difference"):
        call_command("verify_rollups", "--period", "2026-10", stdout=out)
    assert "task t1 cost" in out.getvalue()  # and the meter quantity it is part of
    assert "quantity" in out.getvalue()
    assert "outcome counts" in out.getvalue()


def test_invoice_totals_that_drifted_from_their_lines_are_reported_and_fail() -> None:
    organization_id = _tenant_with_events()
    customer = Customer.objects.get(organization_id=organization_id, external_id="c0")
    reconcile_customer(customer_id=customer.pk, period=period_parse("2026-10"))
    out = StringIO()
    call_command("verify_rollups", "--period", "2026-10", stdout=out)
    assert "invoices' totals with their lines" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE billing_invoicelinegroup SET line_count = line_count + 1 WHERE organization_id = %s "
                       "AND kind = 'outcome'", [organization_id])
    out = StringIO()
    with pytest.raises(CommandError, match="1 difference"):
        call_command("verify_rollups", "--period", "2026-10", stdout=out)
    assert "line group ('outcome'" in out.getvalue()


def test_a_malformed_period_is_refused_by_name() -> None:
    with pytest.raises(CommandError, match="--period"):
        call_command("verify_rollups", "--period", "2026-13")
