"""Portal pages at scale: one customer with 1,000,000 tasks in the current period.

    python bench/portal.py [--tasks 1000000] [--repeat 5] [--keep] [--database-url URL]

1. Recreates the bench database (default tally_bench_portal), migrates it, creates an organization, a
   customer, a rate card, an outcome type, a price book, a vendor admin and the customer's finance user.
2. Generates in PostgreSQL, for the current month so far, one usage event and one outcome event per task
   (with the key table's rows), folds them into the rollups (one pass of the job) and reconciles the
   customer's draft (a line per outcome: `--tasks` lines).
3. Times the server side of each page with Django's test client in this process (the request through
   the middleware, views, queries and templates; no network): the ROI page and the draft invoice page
   (summary and the first page of itemization) as the finance user, the customer's usage summary (the
   events page) as the vendor. One request warms each up, then `--repeat` are timed; prints the median
   and the slowest, and the queries of one request.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_recreate  # noqa: E402
from bench.reconcile import admin_url, django_env  # noqa: E402

USAGE_SQL = """
INSERT INTO metering_usageevent (organization_id, customer_id, meter_id, task_id, quantity, timestamp, properties,
                                 idempotency_key, received_at)
SELECT %(org)s, %(customer)s, %(meter)s, 'task-' || i, 1000 + i %% 5000, x.ts,
       jsonb_build_object('model', CASE WHEN i %% 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END), 'u-' || i,
       x.ts + interval '1 second'
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i,
     LATERAL (SELECT %(start)s::timestamptz + (%(span)s::float8 * i / %(tasks)s) * interval '1 second' AS ts) x
"""
OUTCOME_SQL = """
INSERT INTO outcomes_outcomeevent (organization_id, customer_id, outcome_type_id, task_id, timestamp, properties,
                                   idempotency_key, received_at, status, verifiable_at, reversal_reason)
SELECT %(org)s, %(customer)s, %(type)s, 'task-' || i, x.ts, '{}'::jsonb, 'o-' || i, x.ts + interval '1 second',
       'pending', x.ts, ''
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i,
     LATERAL (SELECT %(start)s::timestamptz + (%(span)s::float8 * i / %(tasks)s) * interval '1 second' AS ts) x
"""


def setup() -> dict[str, int]:
    from accounts.models import User
    from accounts.services import customer_create, organization_get_or_create
    from billing.services.price_books import EntrySpec, price_book_create
    from core.periods import Period
    from metering.services import meter_create, rate_create
    from outcomes.services import outcome_type_create

    organization = organization_get_or_create(slug="bench-portal", name="Bench Portal")
    customer = customer_create(organization=organization, external_id="big", name="Big Customer", currency="USD")
    meter = meter_create(organization=organization, code="llm_tokens", name="LLM tokens", unit="token",
                         aggregation="sum")
    for model, cost in (("gpt-4o", "2.50"), ("gpt-4o-mini", "0.15")):
        rate_create(organization=organization, meter_code="llm_tokens", dimensions={"model": model},
                    unit_cost=Decimal(cost), per=Decimal(1_000_000), currency="USD",
                    effective_from=datetime(2026, 1, 1, tzinfo=UTC))
    outcome_type = outcome_type_create(organization=organization, code="ticket_resolved", name="Ticket resolved",
                                       price=Decimal("0.99"), currency="USD", verification_window_hours=0,
                                       value=Decimal("6.50"))
    price_book_create(customer=customer, effective_from=Period.of(datetime.now(UTC)), currency="USD",
                      entries=[EntrySpec(outcome="ticket_resolved", unit_price=Decimal("0.90"))])
    User.objects.create_user(username="vendor", password="bench-password-1", organization=organization,
                             role=User.Role.VENDOR_ADMIN)
    User.objects.create_user(username="finance", password="bench-password-1", organization=organization,
                             role=User.Role.CUSTOMER_FINANCE, customer=customer)
    return {"org": organization.pk, "customer": customer.pk, "meter": meter.pk, "type": outcome_type.pk}


def load(url: str, ids: dict[str, int], tasks: int) -> None:
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    params = {**ids, "start": start, "span": (now - start).total_seconds() - 60, "tasks": tasks}
    with psycopg.connect(url, autocommit=True) as conn:
        for lo in range(0, tasks, 250_000):
            chunk = {**params, "lo": lo, "hi": min(lo + 250_000, tasks)}
            conn.execute(USAGE_SQL, chunk)
            conn.execute(OUTCOME_SQL, chunk)
            print(f"  {chunk['hi']:,} / {tasks:,} tasks", flush=True)
        conn.execute("ANALYZE")


def timed(client: object, url: str, repeat: int) -> tuple[float, float, int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - began)
        assert response.status_code == 200
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)  # type: ignore[attr-defined]
    return statistics.median(times) * 1000, max(times) * 1000, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/tally_bench_portal")
    args = parser.parse_args()
    url = args.database_url
    database_recreate(url)
    env = django_env(url, "redis://127.0.0.1:6379/6", "bench-portal")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import User
    from billing.services.reconcile import reconcile_customer
    from core.periods import Period
    from rollups.services import rollups_advance

    ids = setup()
    connections.close_all()
    began = time.perf_counter()
    load(url, ids, args.tasks)
    print(f"  events loaded in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    folded = rollups_advance(organization_id=ids["org"])
    print(f"  {folded.events:,} events folded in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    invoice = reconcile_customer(customer_id=ids["customer"], period=Period.of(timezone.now()))
    print(f"  draft reconciled in {time.perf_counter() - began:.0f} s: {invoice.lines.count():,} lines", flush=True)

    finance, vendor = Client(), Client()
    finance.force_login(User.objects.get(username="finance"))
    vendor.force_login(User.objects.get(username="vendor"))
    pages = [
        ("ROI page", finance, reverse("portal:roi")),
        ("invoice page", finance, reverse("portal:invoice-detail", args=[invoice.pk])),
        ("usage summary", vendor, reverse("portal:customer-events", args=["big"])),
    ]
    print(f"server time at {args.tasks:,} tasks in the period (median of {args.repeat}, goal < 150 ms each):")
    for name, client, page in pages:
        median, slowest, queries = timed(client, page, args.repeat)
        print(f"  {name:<14} {median:7.1f} ms (slowest {slowest:.1f} ms, {queries} queries)  {page}", flush=True)
    connections.close_all()
    if not args.keep:
        with psycopg.connect(admin_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
