"""Freshness of the live figures: how long after its acceptance an event shows on its customer's draft
invoice, ROI figures and spend alerts, under sustained ingestion, without a billing run.

    python bench/freshness.py [--seconds 90] [--probe-every 2] [--live-seconds 5] [--database-url URL]

1. Recreates the bench database (default tally_bench_freshness), migrates it, creates the ingest bench's
   tenant (50 customers; its events, ten to a task) plus a rate for its tokens and a `probe` customer,
   and starts the production server (gunicorn, 2 sync workers), a Celery worker (2 pool processes) and beat, with
   LIVE_DRAFTS_SECONDS=`--live-seconds` (beat's billing.refresh_live_drafts: fold new events into the
   rollups, send each customer they changed to billing.refresh_customer_drafts).
2. Measures the maximum ingest rate: 4 senders post 1,000-event batches as fast as they are answered for
   10 s.
3. Then, for `--seconds`, posts batches at half that rate, and every `--probe-every` seconds one event
   of a new task for the probe customer. A probe is fresh when the probe customer's ROI report (written
   in the same transaction as its draft invoice and spend alerts) counts its task; the delay from the
   probe's acceptance (its HTTP answer) to then, polled every 0.1 s, is its freshness.
4. Prints the rates, the probes seen and their freshness p50 / p99 / max.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, database_recreate, percentile, server_env  # noqa: E402
from bench.ingest import BATCH, encode, event, http_request, post, setup  # noqa: E402

USAGE_PATH = "/api/v1/usage-events"


def tenant(database_url: str) -> tuple[str, int, int]:
    """The ingest bench's tenant, a rate for its tokens and the probe customer: (key, org id, probe id)."""
    raw_key, organization_id, _, _ = setup(database_url)
    from accounts.models import Organization
    from accounts.services import customer_create
    from metering.services import rate_create

    organization = Organization.objects.get(pk=organization_id)
    rate_create(organization=organization, meter_code="llm_tokens", dimensions={}, unit_cost=Decimal("2.50"),
                per=Decimal(1_000_000), currency="USD", effective_from=datetime(2020, 1, 1, tzinfo=UTC))
    probe = customer_create(organization=organization, external_id="probe", name="Probe", currency="USD")
    from django.db import connections

    connections.close_all()
    return raw_key, organization_id, probe.pk


class Celery:
    """A worker and beat on a queue of their own."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.processes = [
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", env["CELERY_QUEUE"],
                              "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                              "--without-heartbeat"], cwd=ROOT, env=env, stdout=(log_dir / "worker.log").open("w"),
                             stderr=subprocess.STDOUT),
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
                              "--schedule", str(log_dir / "beat.schedule")], cwd=ROOT, env=env,
                             stdout=(log_dir / "beat.log").open("w"), stderr=subprocess.STDOUT),
        ]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def task_event(i: int, begin: datetime) -> dict[str, object]:
    """The ingest bench's i-th event, with ten events to a task (an agent's calls for one ticket) rather
    than about one task per event and customer."""
    generated = event(i, begin)
    generated["task_id"] = f"task-{i % 50}-{i // 500}"
    return generated


def batches(raw_key: str, port: int, start: int, count: int) -> list[bytes]:
    begin = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return [http_request(port, USAGE_PATH, raw_key,
                         encode([task_event(i, begin) for i in range(n * BATCH, (n + 1) * BATCH)], "strings"))
            for n in range(start, start + count)]


def max_rate(port: int, requests: list[bytes], seconds: float = 10.0) -> float:
    sent = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def run(offset: int) -> None:
        n = offset
        while time.perf_counter() < stop and n < len(requests):
            post(port, requests[n])
            with lock:
                sent[0] += 1
            n += 4

    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(run, range(4)))
    return sent[0] * BATCH / (time.perf_counter() - began)


def probe_request(raw_key: str, port: int, n: int) -> bytes:
    body = encode([{"idempotency_key": f"probe-{n}", "customer": "probe", "meter": "llm_tokens",
                    "quantity": "1000000", "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "task_id": f"probe-task-{n}", "properties": {}}], "strings")
    return http_request(port, USAGE_PATH, raw_key, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--probe-every", type=float, default=2)
    parser.add_argument("--live-seconds", type=int, default=5)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/tally_bench_freshness")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()
    os.environ["CELERY_BROKER_URL"] = args.broker_url
    database_recreate(args.database_url)
    raw_key, organization_id, probe_id = tenant(args.database_url)
    env = {**server_env(args.database_url), "CELERY_QUEUE": f"bench-freshness-{os.getpid()}",
           "LIVE_DRAFTS_SECONDS": str(args.live_seconds), "CELERY_BROKER_URL": args.broker_url}
    log_dir = Path(f"/tmp/bench-freshness-{os.getpid()}")
    log_dir.mkdir(exist_ok=True)
    server = Gunicorn(database_url=args.database_url, workers=2)
    celery = Celery(env, log_dir)
    try:
        peak = max_rate(server.port, batches(raw_key, server.port, 0, 400))
        target = peak / 2
        print(f"maximum ingest rate {peak:,.0f} events/s; sustained at {target:,.0f} events/s "
              f"for {args.seconds:.0f} s, a probe every {args.probe_every:g} s", flush=True)
        load = batches(raw_key, server.port, 400, int(target * args.seconds / BATCH) + 10)
        accepted: dict[int, float] = {}
        seen: dict[int, float] = {}
        done = threading.Event()

        def pace() -> None:
            began = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                for n, request in enumerate(load):
                    due = began + n * BATCH / target
                    if done.is_set():
                        break
                    time.sleep(max(0.0, due - time.perf_counter()))
                    pool.submit(post, server.port, request)

        def watch() -> None:
            with psycopg.connect(args.database_url, autocommit=True) as conn:
                while not done.is_set() or len(seen) < len(accepted):
                    row = conn.execute("SELECT tasks FROM billing_roireport WHERE customer_id = %s "
                                       "ORDER BY period_start DESC LIMIT 1", [probe_id]).fetchone()
                    now = time.perf_counter()
                    for n in range(row[0] if row else 0):
                        if n in accepted and n not in seen:
                            seen[n] = now
                    if done.is_set() and time.perf_counter() > deadline + 120:
                        break
                    time.sleep(0.1)

        deadline = time.perf_counter() + args.seconds
        threads = [threading.Thread(target=pace, daemon=True), threading.Thread(target=watch, daemon=True)]
        for thread in threads:
            thread.start()
        n = 0
        while time.perf_counter() < deadline:
            status, _ = post(server.port, probe_request(raw_key, server.port, n))
            if status == 200:
                accepted[n] = time.perf_counter()
                n += 1
            time.sleep(args.probe_every)
        done.set()
        threads[1].join()
        delays = sorted(seen[n] - accepted[n] for n in seen)
        print(f"probes accepted {len(accepted)}, seen on the draft {len(seen)}")
        if delays:
            print(f"freshness p50 {statistics.median(delays):.1f} s, p99 {percentile(delays, 0.99):.1f} s, "
                  f"max {max(delays):.1f} s (goal p99 <= 60 s; beat every {args.live_seconds} s)")
    finally:
        celery.stop()
        server.stop()
        from django.db import connections

        connections.close_all()
    print(f"organization {organization_id}; logs in {log_dir}")


if __name__ == "__main__":
    main()
