"""Ingestion benchmark: the HTTP API against a bare COPY of the same events.

    python bench/ingest.py [--kind usage|outcome] [--quantities all|strings,integers,decimals] [--events 200000]
                           [--rounds 5] [--workers 2] [--senders 4] [--database-url URL]

1. Recreates the bench database (default tally_bench_ingest on 127.0.0.1), migrates it, and creates an
   organization, customers, meters, an outcome type and an API key.
2. Starts the production server, `gunicorn config.wsgi:application` with sync workers.
3. Then, `--rounds` times, for each spelling of the usage quantities (`--quantities`: decimal strings
   "1500", JSON integers 1500, JSON decimal numbers 1500.25; all three by default, in an order that
   turns each round), each phase starting from empty tables and a checkpoint:
   - raw COPY: the same events, 1,000 rows per COPY (each its own transaction), from one connection
     into a plain table with the event table's columns and indexes (not its foreign keys or triggers);
   - HTTP: `--senders` processes POST the events in 1,000-event batches to /api/v1/usage-events (or
     /api/v1/outcome-events with `--kind outcome`) over loopback, each on a new connection as sync
     workers close them. Requests are encoded before the clock starts, as the COPY rows are, so both
     figures measure the write path only.
4. Prints events/s for both in each round and their ratio, the median ratio per spelling (rounds
   alternate, so a burst of load elsewhere on the machine spoils one round, not the figure), p50/p99
   batch latency and the workers' peak RSS, and checks that every event was stored exactly once, with
   the quantities sent, in every round.

Defaults, for this 2-core machine where sender, gunicorn and PostgreSQL share the cores: 2 workers,
one per core, so a worker is always ready while another waits on PostgreSQL; 4 senders keep both
workers busy (one request queued behind each in flight) without piling up context switches.
More workers than cores only add memory and switching; fewer leaves a core idle during commits.
"""

import argparse
import json
import multiprocessing
import os
import re
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Gunicorn,
    backend_pids,
    cpu_by_pid,
    cpu_seconds,
    database_recreate,
    percentile,
    server_env,
)

BATCH = 1000
CUSTOMERS = 50
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-70b"]
SPELLINGS = ("strings", "integers", "decimals")


def event(i: int, start: datetime, spelling: str = "strings") -> dict[str, object]:
    """The i-th generated event: LLM tokens or GPU seconds, spread over the current month so far. Its
    quantity is text here, with two decimals for `decimals` (written as a JSON number by `encode`)."""
    timestamp = start + timedelta(seconds=i % 86_400)
    fraction = f".{i % 100:02d}" if spelling == "decimals" else ""
    if i % 5 == 4:
        return {
            "idempotency_key": f"bench-{i:09d}", "customer": f"cust-{i % CUSTOMERS:03d}", "meter": "gpu_seconds",
            "quantity": f"{i % 600 + 1}{fraction}", "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
            "task_id": f"task-{i // 7}", "properties": {"gpu": "h100"},
        }
    return {
        "idempotency_key": f"bench-{i:09d}", "customer": f"cust-{i % CUSTOMERS:03d}", "meter": "llm_tokens",
        "quantity": f"{i % 4000 + 1}{fraction}", "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "task_id": f"task-{i // 7}",
        "properties": {"model": MODELS[i % len(MODELS)], "direction": "input" if i % 2 else "output"},
    }


def encode(events: list[dict[str, object]], spelling: str) -> bytes:
    """A batch as json.dumps writes it; the quantities of `integers` and `decimals` as JSON numbers of the
    same text (json.dumps would need a float for 1500.25)."""
    body = json.dumps({"events": events}).encode()
    if spelling == "strings":
        return body
    return re.sub(rb'"quantity": "([0-9.]+)"', rb'"quantity": \1', body)


def outcome_event(i: int, start: datetime) -> dict[str, object]:
    """The i-th generated outcome event: a ticket resolved per task, spread over the current month so far."""
    timestamp = start + timedelta(seconds=i % 86_400)
    return {
        "idempotency_key": f"bench-{i:09d}", "customer": f"cust-{i % CUSTOMERS:03d}", "outcome": "ticket_resolved",
        "task_id": f"task-{i}", "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
    }


@dataclass(frozen=True)
class Kind:
    """What one run ingests: its endpoint, its table (and what to empty), and the raw COPY of the same rows."""

    path: str
    table: str
    tables: str  # emptied before each HTTP round
    columns: tuple[str, ...]


def kind_of(name: str) -> Kind:
    from metering.ingestion import USAGE_COLUMNS
    from outcomes.ingestion import OUTCOME_COLUMNS

    if name == "outcome":
        return Kind("/api/v1/outcome-events", "outcomes_outcomeevent", "outcomes_outcomeevent CASCADE",
                    OUTCOME_COLUMNS)
    return Kind("/api/v1/usage-events", "metering_usageevent", "metering_usageevent, metering_usagekey",
                USAGE_COLUMNS)


def setup(database_url: str) -> tuple[str, int, dict[str, int], dict[str, int]]:
    """Migrate the fresh database and create the tenant; returns (api key, org id, customer ids, meter and
    outcome type ids)."""
    os.environ.update(server_env(database_url))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from accounts.services import api_key_create, customer_create, organization_get_or_create
    from metering.services import meter_create
    from outcomes.services import outcome_type_create

    call_command("migrate", verbosity=0)
    organization = organization_get_or_create(slug="bench", name="Bench")
    _, raw_key = api_key_create(organization=organization)
    customers = {}
    for n in range(CUSTOMERS):
        customer = customer_create(
            organization=organization, external_id=f"cust-{n:03d}", name=f"Customer {n}", currency="USD"
        )
        customers[customer.external_id] = customer.pk
    meters = {}
    for code, unit in [("llm_tokens", "token"), ("gpu_seconds", "second")]:
        meters[code] = meter_create(organization=organization, code=code, name=code, unit=unit, aggregation="sum").pk
    meters["ticket_resolved"] = outcome_type_create(
        organization=organization, code="ticket_resolved", name="Ticket resolved", price=Decimal("0.99"),
        currency="USD", verification_window_hours=72, value=Decimal("6.50"),
    ).pk
    organization_id = organization.pk
    connections.close_all()
    return raw_key, organization_id, customers, meters


def http_request(port: int, path: str, raw_key: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 request for one batch, encoded before the clock starts."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {raw_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def post(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one request on a new connection (sync workers close each one) and read the answer to its end.

    A bare socket rather than http.client: a client of the API runs on another machine, so the less
    of this machine's two cores the senders take, the closer the figure is to the server's own.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def sender(port: int, requests: list[bytes], start_at: float, results: "multiprocessing.Queue") -> None:
    latencies = []
    accepted = duplicates = rejected = 0
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        for request in requests:
            began = time.perf_counter()
            status, payload = post(port, request)
            latencies.append(time.perf_counter() - began)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {payload[:500]!r}")
            answer = json.loads(payload)
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
            rejected += len(answer["rejected"])
    except Exception as exc:  # reported by the parent, which would otherwise wait forever
        results.put(exc)
        return
    results.put((latencies, accepted, duplicates, rejected, time.perf_counter(), time.process_time()))


@dataclass
class Round:
    rate: float
    client_cpu: float  # seconds of CPU, in the COPY client or the gunicorn workers
    server_cpu: float | None  # seconds of CPU in the PostgreSQL backends serving them, if none ended
    latencies: list[float] = field(default_factory=list)
    sender_cpu: float = 0.0

    def cpu_ms_per_batch(self, batches: int) -> str:
        server = "n/a" if self.server_cpu is None else f"{self.server_cpu / batches * 1000:.1f}"
        return f"{self.client_cpu / batches * 1000:.1f} + {server} ms"


def warm_up(port: int, requests: list[bytes], senders: int) -> None:
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(lambda request: post(port, request), requests))


def copy_baseline(database_url: str, kind: Kind, rows: list[tuple[object, ...]]) -> Round:
    """COPY, 1,000 rows per COPY and per transaction, into a plain copy of the event table."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # LIKE ... INCLUDING ALL: the same columns, defaults, identity and indexes (not foreign keys or
        # triggers), without partitions.
        conn.execute(f"CREATE TABLE IF NOT EXISTS bench_copy (LIKE {kind.table} INCLUDING ALL)")
        conn.execute("TRUNCATE bench_copy")
        conn.execute("CHECKPOINT")
        statement = f"COPY bench_copy ({', '.join(kind.columns)}) FROM STDIN"
        backend = [conn.info.backend_pid]
        server_began, client_began = cpu_seconds(backend), time.process_time()
        began = time.perf_counter()
        for offset in range(0, len(rows), BATCH):
            with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows[offset:offset + BATCH]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - began
        client_cpu, server_cpu = time.process_time() - client_began, cpu_seconds(backend) - server_began
        stored = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
        assert stored == len(rows), (stored, len(rows))
    return Round(rate=len(rows) / elapsed, client_cpu=client_cpu, server_cpu=server_cpu)


def http_round(database_url: str, kind: Kind, server: Gunicorn, requests: list[bytes], senders: int,
               quantity_sum: Decimal | None) -> Round:
    """The API from empty event (and key) tables, with the latency of each batch."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The bench's own tables only: outcome events' CASCADE reaches the (empty) invoice tables, whose
        # guard refuses a TRUNCATE unless the session allows it (billing 0007).
        conn.execute("SET tally.allow_truncate = on")
        conn.execute(f"TRUNCATE {kind.tables}")
        conn.execute("CHECKPOINT")
        backends, workers = backend_pids(conn), server.worker_pids()  # workers keep their connections
    server_began, workers_began = cpu_by_pid(backends), cpu_seconds(workers)
    port = server.port
    results: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 1.0
    shares = [requests[n::senders] for n in range(senders)]
    processes = [multiprocessing.Process(target=sender, args=(port, share, start_at, results)) for share in shares]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in processes]
    failures = [item for item in outcomes if isinstance(item, Exception)]
    if failures:
        raise SystemExit(f"a sender failed: {failures[0]}")
    for process in processes:
        process.join()
    finished = max(item[4] for item in outcomes)
    # The senders' clocks are perf_counter, comparable on one machine; start_at is wall time.
    elapsed = finished - (time.perf_counter() - (time.time() - start_at))
    workers_cpu = cpu_seconds(workers) - workers_began
    with psycopg.connect(database_url) as conn:
        server_ended = cpu_by_pid(backend_pids(conn))
    # A worker closes its connection after CONN_MAX_AGE (60 s) and opens another: a backend that started
    # during the round counts whole; one that ended took its CPU with it, so then there is no figure.
    server_cpu = (None if set(server_began) - set(server_ended)
                  else sum(server_ended.values()) - sum(server_began.values()))
    accepted = sum(item[1] for item in outcomes)
    duplicates = sum(item[2] for item in outcomes)
    rejected = sum(item[3] for item in outcomes)
    events = len(requests) * BATCH
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(f"SELECT count(DISTINCT idempotency_key) FROM {kind.table}").fetchone()[0]
        rows = conn.execute(f"SELECT count(*) FROM {kind.table}").fetchone()[0]
        total = conn.execute("SELECT sum(quantity) FROM metering_usageevent").fetchone()[0] if quantity_sum else None
    if (accepted, duplicates, rejected, stored, rows) != (events, 0, 0, events, events):
        raise SystemExit(f"expected {events} events stored once; accepted {accepted}, duplicates {duplicates}, "
                         f"rejected {rejected}, distinct keys {stored}, rows {rows}")
    if total != quantity_sum:
        raise SystemExit(f"the quantities stored add up to {total}, those sent to {quantity_sum}")
    return Round(rate=events / elapsed, client_cpu=workers_cpu, server_cpu=server_cpu,
                 latencies=[value for item in outcomes for value in item[0]],
                 sender_cpu=sum(item[5] for item in outcomes))


@dataclass
class Workload:
    """One spelling of the batches: the encoded requests, the same events as COPY rows, and the sum of
    their quantities (None for outcome events) that the stored rows must add up to."""

    bodies: list[bytes]
    rows: list[tuple[object, ...]]
    quantity_sum: Decimal | None
    requests: list[bytes] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def workload(kind: str, spelling: str, count: int, start: datetime, organization_id: int, customers: dict[str, int],
             meters: dict[str, int]) -> Workload:
    received = datetime.now(UTC)
    if kind == "outcome":
        events = [outcome_event(i, start) for i in range(count)]
        rows: list[tuple[object, ...]] = [
            (organization_id, customers[e["customer"]], meters["ticket_resolved"], e["task_id"],
             datetime.fromisoformat(e["timestamp"]), "{}", e["idempotency_key"], received, "pending",
             datetime.fromisoformat(e["timestamp"]) + timedelta(hours=72), "")
            for e in events
        ]
        quantity_sum = None
    else:
        events = [event(i, start, spelling) for i in range(count)]
        rows = [
            (organization_id, customers[e["customer"]], meters[e["meter"]], e["task_id"], Decimal(e["quantity"]),
             datetime.fromisoformat(e["timestamp"]), json.dumps(e["properties"]), e["idempotency_key"], received)
            for e in events
        ]
        quantity_sum = sum((row[4] for row in rows), Decimal(0))
    bodies = [encode(events[i:i + BATCH], spelling) for i in range(0, len(events), BATCH)]
    return Workload(bodies=bodies, rows=rows, quantity_sum=quantity_sum)


def spellings(value: str) -> list[str]:
    chosen = list(SPELLINGS) if value == "all" else value.split(",")
    if not chosen or set(chosen) - set(SPELLINGS):
        raise argparse.ArgumentTypeError(f"all, or a comma list of {', '.join(SPELLINGS)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--kind", choices=["usage", "outcome"], default="usage",
                        help="usage events (the default) or outcome events")
    parser.add_argument("--quantities", type=spellings, default=list(SPELLINGS),
                        help="how usage quantities are spelled: all (the default), or a comma list of "
                             "strings, integers, decimals")
    parser.add_argument("--rounds", type=int, default=5, help="alternating COPY / HTTP rounds (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default: one per core)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent client processes")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/tally_bench_ingest",
                        help="a database this script may DROP and recreate")
    args = parser.parse_args()
    if args.events < BATCH or args.events % BATCH:
        raise SystemExit("--events must be a positive multiple of 1000")

    database_recreate(args.database_url)
    raw_key, organization_id, customers, meters = setup(args.database_url)

    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if now - start < timedelta(days=1):  # keep every event in the past and in the current month
        start = now - timedelta(days=1)
    kind = kind_of(args.kind)
    names = ["outcomes"] if args.kind == "outcome" else args.quantities
    loads = {name: workload(args.kind, name, args.events, start, organization_id, customers, meters) for name in names}
    batches = args.events // BATCH

    print(f"{args.events:,} {args.kind} events in {batches} batches of {BATCH}"
          + ("" if args.kind == "outcome" else f", quantities as {', '.join(names)}")
          + f"; raw COPY from 1 connection, {BATCH} rows per COPY; HTTP API from {args.senders} senders to "
          f"{args.workers} gunicorn workers; {os.cpu_count()} cores; {args.rounds} rounds", flush=True)
    server = Gunicorn(database_url=args.database_url, workers=args.workers)
    try:
        for load in loads.values():
            load.requests = [http_request(server.port, kind.path, raw_key, body) for body in load.bodies]
            # Warm every worker (first database connection, key, customer and meter caches): sync workers
            # take one connection at a time, so concurrent senders reach them all.
            warm_up(server.port, load.requests[:args.workers * 8], args.workers * 2)
        for number in range(1, args.rounds + 1):
            turn = (number - 1) % len(names)
            for name in names[turn:] + names[:turn]:  # each spelling in turn comes first
                load = loads[name]
                copy = copy_baseline(args.database_url, kind, load.rows)
                api = http_round(args.database_url, kind, server, load.requests, args.senders, load.quantity_sum)
                load.ratios.append(api.rate / copy.rate)
                load.latencies.extend(api.latencies)
                print(f"round {number} {name}: raw COPY {copy.rate:,.0f} events/s (CPU per batch: client + server "
                      f"{copy.cpu_ms_per_batch(batches)}); HTTP API {api.rate:,.0f} events/s (workers + server "
                      f"{api.cpu_ms_per_batch(batches)}, senders {api.sender_cpu / batches * 1000:.1f} ms); "
                      f"every event stored once; ratio {load.ratios[-1]:.2f}", flush=True)
        peaks = server.peak_rss_kib()
    finally:
        server.stop()

    for name, load in loads.items():
        p50, p99 = percentile(load.latencies, 0.5) * 1000, percentile(load.latencies, 0.99) * 1000
        print(f"{name}: ratio HTTP / raw COPY, median of {args.rounds} rounds: {statistics.median(load.ratios):.2f} "
              f"(min {min(load.ratios):.2f}, max {max(load.ratios):.2f}; goal >= 0.90); batch latency "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print("peak RSS of gunicorn workers (VmHWM): "
          + ", ".join(f"{kib / 1024:.0f} MiB" for kib in sorted(peaks.values())))


if __name__ == "__main__":
    main()
