"""How rollups are fed, measured: what each mechanism costs ingestion, and how fast the job folds.

    python bench/rollup_mechanism.py [--batches 60] [--rounds 3] [--fold-events 200000] [--database-url URL]

In a fresh database (default tally_bench_mechanism, recreated and dropped), with the reconcile bench's
tenant (50 customers, rates with dimensions and a mid-month boundary), it COPYs 1,000-event batches
through the real usage-event table (key trigger included, one transaction per batch, one connection),
`--rounds` times in turn for:

- job: the schema as migrated (each row carries its xid, under a BRIN (organization_id, xid) index);
- bare: no xid default and no index (the table as it was before rollups);
- xid b-tree: the xid under a B-tree instead (metering 0006, before 0007);
- statement trigger: the job's schema plus a statement trigger beside the key trigger that folds each
  statement's rows into the usage rollups at once (INSERT ... ON CONFLICT DO UPDATE, keys sorted);

and prints events/s and the server CPU per event of each (median of the rounds), against bare. Then it loads
`--fold-events` events and times one pass of the job over them (events/s folded), and a pass with
nothing new (the beat's idle cost).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, database_recreate  # noqa: E402
from bench.reconcile import admin_url, django_env, setup_tenant  # noqa: E402

COLUMNS = ("organization_id, customer_id, meter_id, task_id, quantity, timestamp, properties, idempotency_key, "
           "received_at")
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-70b"]


def batch_text(tenant: dict[str, object], start: int, size: int) -> bytes:
    customers: list[int] = tenant["customer_ids"]  # type: ignore[assignment]
    meters: dict[str, int] = tenant["meters"]  # type: ignore[assignment]
    base = datetime(2026, 10, 1, tzinfo=UTC)
    received = datetime.now(UTC).isoformat()
    lines = []
    for i in range(start, start + size):
        stamp = (base + timedelta(seconds=i * 2)).isoformat()
        customer = customers[(i // 7) % len(customers)]
        if i % 5 == 4:
            meter, props = meters["gpu_seconds"], '{"gpu_type": "h100"}'
        else:
            meter = meters["llm_tokens"]
            props = f'{{"model": "{MODELS[i % 4]}", "direction": "{"input" if i % 2 else "output"}"}}'
        lines.append(f"{tenant['organization_id']}\t{customer}\t{meter}\ttask-{i // 7}\t{i % 4000 + 1}\t{stamp}\t"
                     f"{props}\tmech-{i}\t{received}\n")
    return "".join(lines).encode()


def trigger_sql() -> str:
    """The statement-trigger alternative: the job's fold, run inside each inserting statement."""
    from accounts.models import Organization
    from rollups.shape import PERIOD_SQL, asof_sql, dims_sql, rate_shape

    organization = Organization.objects.get(slug="bench-reconcile")
    shape = rate_shape(organization_id=organization.pk)
    dims, dims_params = dims_sql(shape)
    asof, asof_params = asof_sql(shape)
    for name, value in {**dims_params, **asof_params}.items():
        literal = f"'{value.isoformat()}'" if isinstance(value, datetime) else f"'{value}'"
        dims, asof = dims.replace(f"%({name})s", literal), asof.replace(f"%({name})s", literal)
    return f"""
    CREATE FUNCTION bench_fold() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO rollups_usage AS r
        SELECT e.organization_id, e.customer_id, {PERIOD_SQL}, e.task_id, e.meter_id, {dims}, {asof},
               count(*), sum(e.quantity), max(e.quantity),
               (array_agg(e.quantity ORDER BY e.timestamp DESC, e.id DESC))[1], max(e.timestamp),
               (array_agg(e.id ORDER BY e.timestamp DESC, e.id DESC))[1], max(e.received_at)
        FROM new_events e GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT ON CONSTRAINT rollups_usage_key DO UPDATE SET
            events = r.events + EXCLUDED.events, total = r.total + EXCLUDED.total,
            maximum = greatest(r.maximum, EXCLUDED.maximum),
            latest = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (r.latest_at, r.latest_id)
                          THEN EXCLUDED.latest ELSE r.latest END,
            latest_id = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (r.latest_at, r.latest_id)
                             THEN EXCLUDED.latest_id ELSE r.latest_id END,
            latest_at = greatest(r.latest_at, EXCLUDED.latest_at),
            max_received_at = greatest(r.max_received_at, EXCLUDED.max_received_at);
        RETURN NULL;
    END $$;
    CREATE TRIGGER bench_fold AFTER INSERT ON metering_usageevent
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION bench_fold();
    """


_BRIN = ("CREATE INDEX metering_usageevent_org_xid ON metering_usageevent USING brin (organization_id, xid) "
         "WITH (pages_per_range = 16, autosummarize = on)")
SETUPS = {
    "job": ("", ""),
    "bare": ("DROP INDEX metering_usageevent_org_xid; ALTER TABLE metering_usageevent ALTER xid SET DEFAULT 0",
             f"{_BRIN}; ALTER TABLE metering_usageevent ALTER xid SET DEFAULT txid_current()"),
    "xid b-tree": ("DROP INDEX metering_usageevent_org_xid; "
                   "CREATE INDEX metering_usageevent_org_xid ON metering_usageevent (organization_id, xid)",
                   f"DROP INDEX metering_usageevent_org_xid; {_BRIN}"),
    "statement trigger": (None, "DROP TRIGGER bench_fold ON metering_usageevent; DROP FUNCTION bench_fold()"),
}


def empty(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE metering_usageevent, metering_usagekey, rollups_usage, rollups_cursor")
    conn.execute("CHECKPOINT")


def copy_round(url: str, tenant: dict[str, object], batches: int, offset: int) -> tuple[float, float]:
    """(events/s, server CPU µs per event): the CPU figure is what the COPY cost PostgreSQL, which other
    load on the machine disturbs far less than the wall clock."""
    texts = [batch_text(tenant, offset + n * 1000, 1000) for n in range(batches)]
    with psycopg.connect(url) as conn:
        backend = [conn.info.backend_pid]
        cpu_began, began = cpu_seconds(backend), time.perf_counter()
        for text in texts:
            with conn.cursor().copy(f"COPY metering_usageevent ({COLUMNS}) FROM STDIN") as copy:
                copy.write(text)
            conn.commit()
        elapsed, cpu = time.perf_counter() - began, cpu_seconds(backend) - cpu_began
        return batches * 1000 / elapsed, cpu / (batches * 1000) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fold-events", type=int, default=200_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/tally_bench_mechanism")
    args = parser.parse_args()
    url = args.database_url
    database_recreate(url)
    env = django_env(url, "redis://127.0.0.1:6379/6", "bench-mechanism")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    tenant = setup_tenant(50)
    fold_trigger = trigger_sql()
    rates: dict[str, list[float]] = {name: [] for name in SETUPS}
    cpus: dict[str, list[float]] = {name: [] for name in SETUPS}
    offset = 0
    with psycopg.connect(url, autocommit=True) as admin:
        for number in range(args.rounds):
            for name, (before, after) in SETUPS.items():
                empty(admin)
                admin.execute(fold_trigger if before is None else before) if before != "" else None
                rate, cpu = copy_round(url, tenant, args.batches, offset)
                offset += args.batches * 1000
                if after:
                    admin.execute(after)
                rates[name].append(rate)
                cpus[name].append(cpu)
                print(f"round {number + 1} {name:<18} {rate:>9,.0f} events/s  {cpu:5.1f} µs server CPU per event",
                      flush=True)
        bare_rate, bare_cpu = statistics.median(rates["bare"]), statistics.median(cpus["bare"])
        for name in SETUPS:
            rate, cpu = statistics.median(rates[name]), statistics.median(cpus[name])
            print(f"{name:<18} median {rate:>9,.0f} events/s ({rate / bare_rate:.2f} of bare), "
                  f"{cpu:5.1f} µs CPU per event ({cpu / bare_cpu:.2f} of bare)")

        empty(admin)
        from rollups.services import rollups_advance

        organization_id = int(tenant["organization_id"])  # type: ignore[call-overload]
        for start in range(0, args.fold_events, 10_000):
            with psycopg.connect(url) as conn:
                with conn.cursor().copy(f"COPY metering_usageevent ({COLUMNS}) FROM STDIN") as copy:
                    copy.write(batch_text(tenant, 10_000_000 + start, min(10_000, args.fold_events - start)))
        admin.execute("ANALYZE")
        result = rollups_advance(organization_id=organization_id)
        idle = rollups_advance(organization_id=organization_id)
        print(f"job pass over {result.events:,} new events: {result.seconds:.2f} s "
              f"({result.events / result.seconds:,.0f} events/s folded); idle pass {idle.seconds * 1000:.0f} ms")
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
