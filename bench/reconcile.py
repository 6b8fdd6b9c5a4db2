"""Reconciliation benchmark: a month's billing run against a raw SQL GROUP BY of the same per-task costs.

    python bench/reconcile.py [--usage-events 10000000] [--outcome-events 1000000] [--customers 1000]
                              [--workers 2] [--small-scale 0.1] [--in-process] [--keep] [--database-url URL]

For each scale (the given sizes, then the same customers with `--small-scale` times the events, to show
that worker memory does not grow with the event count), in a fresh database (default
tally_bench_reconcile on 127.0.0.1, recreated; dropped at the end unless --keep):

1. Migrates it (`manage.py migrate` in a subprocess) and creates, through the services, one
   organization, the customers, the meters llm_tokens (model, direction) and gpu_seconds (gpu_type),
   a rate card with list-price-like rates, a fallback rate and a mid-month price change of one model
   (so the time-versioned lookup runs), three outcome types with 0-hour verification windows, and
   price books of four kinds (none, graduated, volume with included outcomes and a spend cap, flat
   with platform fee, usage overage and minimum commit).
2. Bulk-loads the events of 2026-10, generated inside PostgreSQL with `INSERT ... SELECT
   generate_series(...)` (the server-side equivalent of COPY; nothing goes through the API), in
   chunks on two connections: ~10 usage events per task over 1/10 as many tasks, in time order
   (runs of 10 tasks per customer, customers interleaved, as ingestion would store them), each with
   its metering_usagekey row;
   outcome events on 9 of 10 tasks (one in ten gets two, one in 200 is reversed). Then ANALYZE.
3. Folds the events into the rollups (one pass of the job, timed). Billing runs: starts `celery -A
   config worker -Q <queue> --concurrency=<workers>`, creates a run with billing_run_create (the worker
   fans it out in chunks of customers) and polls until it is done, twice: the cold run computes every
   draft, the close run finds them current (standing for a close over drafts the live refresh kept
   current) and checks their stamps; wall time from each run's creation to its last chunk. `--in-process` runs
   billing_run_execute in this process instead (for profiling).
4. Raw GROUP BY: from one connection, the same rows (customer, month, received by the run's
   cutoff) joined to the rate in force for each, summed per (customer, task) exactly as numeric.
   Checks that the per-customer costs of the ROI reports equal the raw sums.
5. Prints rows loaded, load time, billing run and raw times, their ratio, invoices and lines written
   and the workers' peak RSS (VmHWM of each pool process).

Timings are noisy when PostgreSQL is shared: run it more than once. The layout matters: a customer's
events sit in runs of ~100 rows (ten tasks), as batched ingestion writes them; with runs of ~10 rows
the per-customer reads touch ~8x more pages and the run takes longer.

Measured on the 2-core box (PostgreSQL 15, shared_buffers 128 MB), default sizes, 2 workers, with the
rollups (docs/scaling.md): the job folds the 10M events in 49.4 s; the cold run (every draft computed
from the rollups) 39.1 s; the close run (drafts current, each stamp checked) 4.3 s against a raw GROUP
BY of 9.8 s: ratio 0.44 (cold 4.01; before rollups the run read raw events: 41.3 s, ratio 3.25). Peak
worker RSS 125-126 MiB at 10M events, 123-124 MiB at 1M. Per customer, the cold run's time is writing
~1,000 lines (COPY, indexes, foreign keys) and pricing them in Python; the rollup read is ~4 ms.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_recreate  # noqa: E402

MONTH = "2026-10"
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_SECONDS = 31 * 86_400
PRICE_CHANGE = datetime(2026, 10, 16, tzinfo=UTC)
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-70b"]
# Rows per INSERT ... SELECT: one statement per transaction, so the load reports progress and two
# connections keep both cores busy; 500,000 rows is a few seconds each.
LOAD_CHUNK = 500_000
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tally_bench_reconcile"


def django_env(database_url: str, broker_url: str, queue: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": database_url, "DEBUG": "0",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(), "CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": queue,
        "LOG_LEVEL": "WARNING",
    })
    return env


# --- setup -------------------------------------------------------------------------------------------

def setup_tenant(customers: int) -> dict[str, object]:
    """Organization, customers, meters, rate card, outcome types and price books, through the services."""
    from accounts.services import customer_create, organization_get_or_create
    from billing.services.price_books import EntrySpec, MeterSpec, price_book_create
    from core.periods import Period
    from metering.services import meter_create, rate_create
    from outcomes.services import outcome_type_create

    organization = organization_get_or_create(slug="bench-reconcile", name="Bench Reconcile")
    customer_rows = [
        customer_create(organization=organization, external_id=f"cust-{n:05d}", name=f"Customer {n}", currency="USD")
        for n in range(customers)
    ]
    meters = {
        "llm_tokens": meter_create(organization=organization, code="llm_tokens", name="LLM tokens", unit="token",
                                   aggregation="sum"),
        "gpu_seconds": meter_create(organization=organization, code="gpu_seconds", name="GPU seconds",
                                    unit="second", aggregation="sum"),
    }
    since = datetime(2026, 1, 1, tzinfo=UTC)
    per_million = Decimal(1_000_000)
    # USD per 1M tokens (input, output), list-price-like.
    llm = {"gpt-4o": ("2.50", "10.00"), "gpt-4o-mini": ("0.15", "0.60"), "claude-sonnet": ("3.00", "15.00"),
           "llama-70b": ("0.59", "0.79")}
    for model, (input_cost, output_cost) in llm.items():
        for direction, cost in (("input", input_cost), ("output", output_cost)):
            rate_create(organization=organization, meter_code="llm_tokens",
                        dimensions={"model": model, "direction": direction}, unit_cost=Decimal(cost),
                        per=per_million, currency="USD", effective_from=since)
    # Mid-month price cut of gpt-4o: the time-versioned path.
    for direction, cost in (("input", "2.00"), ("output", "8.00")):
        rate_create(organization=organization, meter_code="llm_tokens",
                    dimensions={"model": "gpt-4o", "direction": direction}, unit_cost=Decimal(cost),
                    per=per_million, currency="USD", effective_from=PRICE_CHANGE)
    # A fallback for models without a rate (never the best match for the generated events).
    rate_create(organization=organization, meter_code="llm_tokens", dimensions={}, unit_cost=Decimal("5.00"),
                per=per_million, currency="USD", effective_from=since)
    for gpu, hourly in (("h100", "2.99"), ("a100", "1.79")):
        rate_create(organization=organization, meter_code="gpu_seconds", dimensions={"gpu_type": gpu},
                    unit_cost=Decimal(hourly), per=Decimal(3600), currency="USD", effective_from=since)
    types = {
        code: outcome_type_create(organization=organization, code=code, name=name, price=Decimal(price),
                                  currency="USD", verification_window_hours=0, value=Decimal(value))
        for code, name, price, value in (
            ("ticket_resolved", "Ticket resolved", "0.99", "6.50"),
            ("ticket_deflected", "Ticket deflected", "0.40", "2.00"),
            ("code_review", "Code review completed", "2.50", "25.00"),
        )
    }
    period = Period.of(MONTH_START)
    for n, customer in enumerate(customer_rows):
        kind = n % 4
        if kind == 1:  # graduated
            price_book_create(customer=customer, effective_from=period, currency="USD", entries=[
                EntrySpec(outcome="ticket_resolved", model="graduated", tiers=[
                    {"up_to": 200, "unit_price": "1.10"}, {"up_to": None, "unit_price": "0.85", "flat_fee": "5"}]),
            ])
        elif kind == 2:  # volume, included outcomes, a spend cap on every other one
            price_book_create(customer=customer, effective_from=period, currency="USD", included_outcomes=50,
                              spend_cap=Decimal(400) if n % 8 == 2 else None, entries=[
                EntrySpec(outcome="ticket_deflected", model="volume", tiers=[
                    {"up_to": 100, "unit_price": "0.50"}, {"up_to": None, "unit_price": "0.35"}]),
                EntrySpec(outcome="code_review", model="package", package_size=10, package_price=Decimal("20")),
            ])
        elif kind == 3:  # hybrid: flat prices, platform fee, token overage, minimum commit
            price_book_create(customer=customer, effective_from=period, currency="USD",
                              platform_fee=Decimal(250), minimum_commit=Decimal(1500), entries=[
                EntrySpec(outcome="ticket_resolved", unit_price=Decimal("0.90")),
            ], meters=[MeterSpec(meter="llm_tokens", unit_price=Decimal("1.50"), per=Decimal(1_000_000),
                                 included_quantity=Decimal(5_000_000))])
    return {
        "organization_id": organization.pk,
        "customer_ids": [c.pk for c in customer_rows],
        "meters": {code: meter.pk for code, meter in meters.items()},
        "types": {code: t.pk for code, t in types.items()},
    }


PARTITION = "metering_usageevent_y2026m10"

USAGE_SQL = f"""
INSERT INTO {PARTITION} (id, organization_id, customer_id, meter_id, task_id, quantity, timestamp,
                                 properties, idempotency_key, received_at)
SELECT s.i + 1, %(org)s, (%(customers)s::bigint[])[s.t / 10 %% %(ncust)s + 1],
       CASE WHEN s.j < 8 THEN %(llm)s ELSE %(gpu)s END,
       CASE WHEN s.j = 9 AND s.t %% 100 = 0 THEN NULL ELSE 'task-' || s.t END,
       CASE WHEN s.j >= 8 THEN ((s.i * 31) %% 2400)::numeric / 4 + 0.5
            WHEN s.j %% 2 = 0 THEN (s.i * 7919) %% 3000 + 200
            ELSE (s.i * 104729) %% 800 + 20 END,
       x.ts,
       CASE WHEN s.j < 8 THEN jsonb_build_object(
                'model',
                (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-70b'])[(s.t / 10 / %(ncust)s) %% 4 + 1],
                'direction', CASE WHEN s.j %% 2 = 0 THEN 'input' ELSE 'output' END)
            ELSE jsonb_build_object('gpu_type', CASE WHEN (s.t / 10 / %(ncust)s) %% 3 = 0 THEN 'a100' ELSE 'h100' END)
       END,
       'u-' || s.i, x.ts + interval '5 seconds'
FROM (SELECT i, i / 10 AS t, i %% 10 AS j FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i) s,
     LATERAL (SELECT %(start)s::timestamptz
                     + make_interval(secs => (s.t * %(span)s / %(tasks)s) + s.j) AS ts) x
"""

KEYS_SQL = f"""
INSERT INTO metering_usagekey (organization_id, idempotency_key, customer_id, timestamp)
SELECT organization_id, idempotency_key, customer_id, timestamp FROM {PARTITION}
WHERE id > %(lo)s AND id <= %(hi)s
"""

# Indexes are built once after the load (a sort) rather than row by row: the month's partition is
# detached and replaced by a bare table, which ATTACH PARTITION gives the partitioned indexes; the key
# table's primary key is dropped and added back. Foreign-key triggers of the outcome table are skipped
# (session_replication_role) since every generated row references rows created above.
BEFORE_LOAD = f"""
ALTER TABLE metering_usageevent DETACH PARTITION {PARTITION};
DROP TABLE {PARTITION};
CREATE TABLE {PARTITION} (LIKE metering_usageevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE metering_usagekey DROP CONSTRAINT metering_usagekey_pkey;
"""
AFTER_LOAD = f"""
ALTER TABLE metering_usageevent ATTACH PARTITION {PARTITION}
    FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-11-01 00:00:00+00');
ALTER TABLE metering_usagekey ADD PRIMARY KEY (organization_id, idempotency_key);
"""

OUTCOME_SQL = """
INSERT INTO outcomes_outcomeevent (organization_id, customer_id, outcome_type_id, task_id, timestamp, properties,
                                   idempotency_key, received_at, status, verifiable_at, reversed_at, reversal_reason)
SELECT %(org)s, (%(customers)s::bigint[])[y.t / 10 %% %(ncust)s + 1],
       CASE WHEN y.r = 1 THEN %(review)s WHEN (y.t / 10 / %(ncust)s) %% 2 = 0 THEN %(resolved)s ELSE %(deflected)s END,
       'task-' || y.t, x.ts, '{}'::jsonb, 'o-' || y.k, x.ts + interval '5 seconds',
       CASE WHEN y.k %% 200 = 7 THEN 'reversed' ELSE 'pending' END, x.ts,
       CASE WHEN y.k %% 200 = 7 THEN x.ts + interval '1 hour' END,
       CASE WHEN y.k %% 200 = 7 THEN 'bench: customer reopened the ticket' ELSE '' END
FROM (
    -- Outcome k goes to a task ending in its slot: tasks ending in 0 get two (resolved, then reviewed),
    -- tasks ending in 9 none (cost without outcome, for the ROI report).
    SELECT k, k %% 10 AS r,
           (((k / 10) * 10 + (ARRAY[0, 0, 1, 2, 3, 4, 5, 6, 7, 8])[k %% 10 + 1]) * %(tasks)s / %(outcomes)s) AS t
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS k
) y,
LATERAL (SELECT %(start)s::timestamptz + make_interval(secs => (y.t * %(span)s / %(tasks)s) + 10) AS ts) x
"""


def load(database_url: str, tenant: dict[str, object], usage_events: int, outcome_events: int) -> float:
    """Generate the month's events in PostgreSQL; returns seconds."""
    tasks = max(usage_events // 10, 1)
    common = {
        "org": tenant["organization_id"], "customers": tenant["customer_ids"], "ncust": len(tenant["customer_ids"]),
        "llm": tenant["meters"]["llm_tokens"], "gpu": tenant["meters"]["gpu_seconds"],  # type: ignore[index]
        "review": tenant["types"]["code_review"], "resolved": tenant["types"]["ticket_resolved"],  # type: ignore[index]
        "deflected": tenant["types"]["ticket_deflected"],  # type: ignore[index]
        "start": MONTH_START, "span": MONTH_SECONDS - 11, "tasks": tasks, "outcomes": max(outcome_events, 1),
    }
    jobs = [("usage", lo, min(lo + LOAD_CHUNK, usage_events)) for lo in range(0, usage_events, LOAD_CHUNK)]
    jobs += [("outcome", lo, min(lo + LOAD_CHUNK, outcome_events)) for lo in range(0, outcome_events, LOAD_CHUNK)]
    done = [0]
    lock = threading.Lock()

    def run(job: tuple[str, int, int]) -> None:
        kind, lo, hi = job
        with psycopg.connect(database_url) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET session_replication_role = replica")
            params = {**common, "lo": lo, "hi": hi}
            if kind == "usage":
                conn.execute(USAGE_SQL, params)
                conn.execute(KEYS_SQL, params)
            else:
                conn.execute(OUTCOME_SQL, params)
        with lock:
            done[0] += hi - lo
            print(f"  loaded {done[0]:,} / {usage_events + outcome_events:,} rows", end="\r", flush=True)

    began = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(BEFORE_LOAD)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, jobs))
    print(f"\n  rows in {time.perf_counter() - began:.0f} s; building indexes", flush=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(AFTER_LOAD)
        conn.execute("SELECT setval(pg_get_serial_sequence('metering_usageevent', 'id'), %s)",
                     [max(usage_events, 1)])
        conn.execute("ANALYZE")
    print()
    return time.perf_counter() - began


# --- the billing run ---------------------------------------------------------------------------------

class Workers:
    """`celery -A config worker` on a queue of its own; knows its pool processes' peak RSS."""

    def __init__(self, *, env: dict[str, str], queue: str, concurrency: int) -> None:
        self.ready = threading.Event()
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, f"--concurrency={concurrency}",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}@%h"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(120):
            self.stop()
            raise SystemExit("celery worker did not start:\n" + "".join(self.log[-40:]))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            if " ready." in line:
                self.ready.set()
            if "ERROR" in line or "Traceback" in line:
                sys.stderr.write("worker: " + line)

    def pool_pids(self) -> list[int]:
        pids = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids.extend(int(pid) for pid in (task / "children").read_text().split())
        return pids

    def peak_rss_kib(self) -> dict[int, int]:
        peaks = {}
        for pid in self.pool_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+)", status, re.MULTILINE)
            if match:
                peaks[pid] = int(match.group(1))
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def billing_run(*, organization_id: int, in_process: bool, workers: Workers | None) -> tuple[float, object]:
    from django.db import transaction

    from accounts.models import Organization
    from billing.models import BillingRun
    from billing.services.runs import billing_run_create, billing_run_execute
    from core.periods import period_parse

    organization = Organization.objects.get(pk=organization_id)
    period = period_parse(MONTH)
    began = time.perf_counter()
    if in_process:
        run = BillingRun.objects.create(organization=organization, period_start=period.start)
        run = billing_run_execute(run_id=run.pk)
        return time.perf_counter() - began, run
    with transaction.atomic():
        run = billing_run_create(organization=organization, period=period)
    last_print = 0.0
    while True:
        run.refresh_from_db()
        if run.status in (BillingRun.Status.DONE, BillingRun.Status.FAILED):
            return time.perf_counter() - began, run
        if workers is not None and workers.process.poll() is not None:
            raise SystemExit("celery worker exited:\n" + "".join(workers.log[-40:]))
        now = time.perf_counter()
        if now - last_print > 5:
            print(f"  run {run.status}: {run.customers_done} / {run.customers_total} customers, "
                  f"{now - began:.0f} s", flush=True)
            last_print = now
        time.sleep(0.1)


# --- the raw SQL reference ---------------------------------------------------------------------------

# The rate card resolved by hand: for each (meter, dimensions) its rates as [from, to) ranges. Every
# generated event's properties equal one rate's dimensions, so an equality join finds its rate.
RAW_SQL = """
WITH rates AS (
    SELECT meter_id, dimensions, unit_cost, per, currency, effective_from AS valid_from,
           coalesce(lead(effective_from) OVER (PARTITION BY meter_id, dimensions ORDER BY effective_from),
                    'infinity') AS valid_to
    FROM metering_rate WHERE organization_id = %(org)s
), per_task AS (
    SELECT e.customer_id, e.task_id, r.currency, sum(e.quantity * r.unit_cost / r.per) AS cost, count(*) AS events
    FROM metering_usageevent e
    JOIN rates r ON r.meter_id = e.meter_id AND r.dimensions = e.properties
                AND e.timestamp >= r.valid_from AND e.timestamp < r.valid_to
    WHERE e.organization_id = %(org)s AND e.timestamp >= %(start)s AND e.timestamp < %(end)s
      AND e.received_at <= %(cutoff)s
    GROUP BY e.customer_id, e.task_id, r.currency
)
"""


def raw_group_by(database_url: str, organization_id: int, cutoff: datetime) -> tuple[float, int, Decimal]:
    """The timed reference: per-(customer, task) sums computed by the database, nothing sent back but a total."""
    params = {"org": organization_id, "start": MONTH_START, "end": datetime(2026, 11, 1, tzinfo=UTC),
              "cutoff": cutoff}
    with psycopg.connect(database_url) as conn:
        began = time.perf_counter()
        groups, total = conn.execute(RAW_SQL + "SELECT count(*), sum(cost) FROM per_task", params).fetchone()
        elapsed = time.perf_counter() - began
    return elapsed, groups, total


def costs_check(database_url: str, organization_id: int, cutoff: datetime) -> int:
    """Customers whose ROI cost to serve differs from the raw per-task sums (0 when all agree)."""
    params = {"org": organization_id, "start": MONTH_START, "end": datetime(2026, 11, 1, tzinfo=UTC),
              "cutoff": cutoff}
    sql = RAW_SQL + """
        , per_customer AS (SELECT customer_id, sum(cost) AS cost FROM per_task GROUP BY customer_id)
        SELECT count(*) FROM billing_roireport roi
        FULL JOIN per_customer p ON p.customer_id = roi.customer_id
        WHERE (roi.id IS NULL OR roi.period_start = %(start)s::date)
          -- ROI costs are stored to 12 places, and the engine divides per group, the raw sum per event.
          AND (roi.id IS NULL OR p.customer_id IS NULL OR abs(roi.cost_to_serve - p.cost) > 1e-11)
    """
    with psycopg.connect(database_url) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


# --- one scale ---------------------------------------------------------------------------------------

def run_scale(args: argparse.Namespace) -> dict[str, object]:
    database_url = args.database_url
    database_recreate(database_url)
    queue = f"bench-reconcile-{os.getpid()}"
    env = django_env(database_url, args.broker_url, queue)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    began = time.perf_counter()
    tenant = setup_tenant(args.customers)
    setup_seconds = time.perf_counter() - began
    connections.close_all()
    print(f"  tenant set up in {setup_seconds:.1f} s; loading events", flush=True)
    load_seconds = load(database_url, tenant, args.usage_events, args.outcome_events)
    print(f"  loaded in {load_seconds:.1f} s", flush=True)
    from rollups.services import rollups_advance

    began = time.perf_counter()
    folded = rollups_advance(organization_id=int(tenant["organization_id"]))  # type: ignore[call-overload]
    fold_seconds = time.perf_counter() - began
    connections.close_all()
    print(f"  rollups: {folded.events:,} events folded in {fold_seconds:.1f} s", flush=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute("CHECKPOINT")

    workers = None if args.in_process else Workers(env=env, queue=queue, concurrency=args.workers)
    try:
        run_seconds, run = billing_run(organization_id=tenant["organization_id"], in_process=args.in_process,
                                       workers=workers)
        # The close: the drafts are current (the first run stands for the live refreshes of the month),
        # so the run checks each draft's stamp and leaves it as it is.
        close_seconds, close = billing_run(organization_id=tenant["organization_id"],
                                           in_process=args.in_process, workers=workers)
        peaks = workers.peak_rss_kib() if workers else {}
    finally:
        if workers:
            workers.stop()
    for finished in (run, close):
        if finished.status != "done":
            print(f"  run {finished.status}: {finished.error[:2000]}")

    from billing.models import Invoice, InvoiceLine

    invoices = Invoice.objects.filter(organization_id=tenant["organization_id"], period_start=MONTH_START.date())
    lines = InvoiceLine.objects.filter(invoice__in=invoices).count()
    invoice_count = invoices.count()
    cutoff = run.started_at
    connections.close_all()
    raw_seconds, groups, raw_total = raw_group_by(database_url, tenant["organization_id"], cutoff)
    mismatches = costs_check(database_url, tenant["organization_id"], cutoff)
    if not args.keep:
        with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{urlparse(database_url).path.lstrip("/")}" WITH (FORCE)')
    in_process_peak = None
    if args.in_process:
        in_process_peak = int(re.search(r"^VmHWM:\s+(\d+)", Path("/proc/self/status").read_text(),
                                        re.MULTILINE).group(1))
    return {
        "usage_events": args.usage_events, "outcome_events": args.outcome_events, "customers": args.customers,
        "load_seconds": load_seconds, "fold_seconds": fold_seconds, "folded_events": folded.events,
        "run_seconds": run_seconds, "close_seconds": close_seconds, "close_status": close.status,
        "run_status": run.status,
        "raw_seconds": raw_seconds, "raw_groups": groups, "raw_total": str(raw_total),
        "invoices": invoice_count, "lines": lines, "cost_mismatches": mismatches,
        "worker_peak_rss_kib": sorted(peaks.values()), "in_process_peak_rss_kib": in_process_peak,
    }


def admin_url(url: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/postgres"))


def report(result: dict[str, object]) -> None:
    run, raw = float(result["run_seconds"]), float(result["raw_seconds"])  # type: ignore[arg-type]
    peaks = result["worker_peak_rss_kib"] or ([result["in_process_peak_rss_kib"]] if
                                              result["in_process_peak_rss_kib"] else [])
    rows_loaded = int(result["usage_events"]) + int(result["outcome_events"])  # type: ignore[call-overload]
    print(f"  rows loaded          {rows_loaded:,} ({result['usage_events']:,} usage, "
          f"{result['outcome_events']:,} outcome, {result['customers']:,} customers)")
    print(f"  load time            {float(result['load_seconds']):.1f} s")  # type: ignore[arg-type]
    print(f"  rollup fold          {float(result['fold_seconds']):.1f} s "  # type: ignore[arg-type]
          f"({result['folded_events']:,} events, one pass of the job; in production it runs as events arrive)")
    close = float(result["close_seconds"])  # type: ignore[arg-type]
    print(f"  billing run, cold    {run:.1f} s ({result['run_status']}; every draft computed from the rollups)")
    print(f"  billing run, close   {close:.1f} s ({result['close_status']}; drafts kept current by the live "
          "refresh: each stamp checked, nothing rewritten)")
    print(f"  raw GROUP BY         {raw:.1f} s ({result['raw_groups']:,} (customer, task) groups)")
    print(f"  ratio close / raw    {close / raw:.2f} (goal <= 1.0)")
    print(f"  ratio cold / raw     {run / raw:.2f}")
    print(f"  invoices written     {result['invoices']:,}")
    print(f"  lines written        {result['lines']:,}")
    mismatches = result["cost_mismatches"]
    print(f"  costs match raw      {'yes' if mismatches == 0 else f'NO: {mismatches} customers differ'}")
    label = "peak RSS (bench)" if result["in_process_peak_rss_kib"] else "peak worker RSS"
    print(f"  {label:<20} {', '.join(f'{kib / 1024:.0f} MiB' for kib in peaks)}")  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--usage-events", type=int, default=10_000_000)
    parser.add_argument("--outcome-events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2, help="celery pool processes (default: one per core)")
    parser.add_argument("--small-scale", type=float, default=0.1,
                        help="also run with this fraction of the events (0: skip) to compare worker RSS")
    parser.add_argument("--in-process", action="store_true", help="run billing_run_execute in this process")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a database this script may DROP and recreate")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--json-out", help=argparse.SUPPRESS)  # one scale, run by the parent
    args = parser.parse_args()

    if args.json_out:
        Path(args.json_out).write_text(json.dumps(run_scale(args)))
        return
    scales = [1.0] + ([args.small_scale] if args.small_scale else [])
    results = []
    for scale in scales:
        usage, outcomes = int(args.usage_events * scale), int(args.outcome_events * scale)
        print(f"scale {scale:g}: {usage:,} usage events, {outcomes:,} outcome events, {args.customers:,} customers",
              flush=True)
        out = Path(f"/tmp/bench-reconcile-{os.getpid()}.json")
        command = [sys.executable, __file__, "--usage-events", str(usage), "--outcome-events", str(outcomes),
                   "--customers", str(args.customers), "--workers", str(args.workers), "--database-url",
                   args.database_url, "--broker-url", args.broker_url, "--json-out", str(out)]
        command += ["--in-process"] if args.in_process else []
        command += ["--keep"] if args.keep and scale == scales[-1] else []
        subprocess.run(command, check=True)
        results.append(json.loads(out.read_text()))
        out.unlink()
        report(results[-1])
    if len(results) == 2:
        big, small = (max(r["worker_peak_rss_kib"] or [r["in_process_peak_rss_kib"] or 0]) for r in results)
        print(f"peak RSS at full scale {big / 1024:.0f} MiB vs {small / 1024:.0f} MiB at {args.small_scale:g}x events")


if __name__ == "__main__":
    main()
