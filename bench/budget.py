"""Server time of GET /api/v1/customers/{id}/tasks/{task}/budget with many events for the task.

Recreates the database named by --database-url, seeds one task with --events usage events (two models,
input and output, spread over three months) and a guardrail, then times the request in-process through
Django's full stack (middleware, authentication, view, queries): that is the server time an agent pays.
Prints p50/p99 and the ratio to a baseline measured in the same run: the same request for a task with
one event.

    DATABASE_URL=... .venv/bin/python bench/budget.py --database-url postgresql://postgres@127.0.0.1:5432/tally_bench_g
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import database_recreate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/tally_bench_g")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tail", type=int, default=200, help="events ingested after the rollups job's last pass")
    args = parser.parse_args()
    database_recreate(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from accounts.models import Customer, Organization
    from accounts.services import api_key_create
    from metering.ingestion import usage_events_ingest
    from metering.models import Meter, Rate
    from outcomes.models import OutcomeType
    from rollups.services import rollups_advance
    from value.services.guardrails import guardrail_set

    organization = Organization.objects.create(name="Bench", slug="bench")
    Customer.objects.create(organization=organization, external_id="acme", name="Acme", currency="USD")
    meter = Meter.objects.create(organization=organization, code="llm_tokens", name="LLM tokens", unit="token")
    for model, direction, cost in (("gpt-4o", "input", "2.5"), ("gpt-4o", "output", "10"),
                                   ("mini", "input", "0.15"), ("mini", "output", "0.6")):
        Rate.objects.create(organization=organization, meter=meter, dimensions={"model": model, "direction": direction},
                            dimension_count=2, unit_cost=Decimal(cost), per=Decimal(1_000_000), currency="USD",
                            effective_from=datetime(2020, 1, 1, tzinfo=UTC))
    OutcomeType.objects.create(organization=organization, code="ticket_resolved", name="Ticket", price=Decimal(2),
                               currency="USD")
    guardrail_set(organization=organization, outcome="ticket_resolved", max_cost_share=Decimal("0.3"))
    # A running task: its events over the last days (the budget reads this period and the one before).
    start = datetime.now(UTC) - timedelta(days=20)
    models = [("gpt-4o", "input"), ("gpt-4o", "output"), ("mini", "input"), ("mini", "output")]
    for task, count in (("big-task", args.events), ("small-task", 1)):
        for offset in range(0, count, 1000):
            events = [{"idempotency_key": f"{task}-{i}", "customer": "acme", "meter": "llm_tokens", "quantity": "1000",
                       "timestamp": (start + timedelta(minutes=i * 13 % 28000)).isoformat(), "task_id": task,
                       "properties": {"model": models[i % 4][0], "direction": models[i % 4][1]}}
                      for i in range(offset, min(offset + 1000, count))]
            usage_events_ingest(organization_id=organization.pk, body=json.dumps({"events": events}).encode())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after such a load
    # The rollups job (beat, every few seconds) folds them; a few events arriving since stay in its tail.
    rollups_advance(organization_id=organization.pk)
    tail = [{"idempotency_key": f"tail-{i}", "customer": "acme", "meter": "llm_tokens", "quantity": "500",
             "timestamp": (start + timedelta(minutes=i)).isoformat(), "task_id": "big-task",
             "properties": {"model": "gpt-4o", "direction": "output"}} for i in range(args.tail)]
    if tail:
        usage_events_ingest(organization_id=organization.pk, body=json.dumps({"events": tail}).encode())
    _, raw = api_key_create(organization=organization)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def timed() -> tuple[list[float], list[float], list[float]]:
        """The big task's and the baseline's requests alternate, so both see the same machine."""
        urls = {task: f"/api/v1/customers/acme/tasks/{task}/budget?outcome=ticket_resolved"
                for task in ("big-task", "small-task")}
        # The floor: an authenticated API request that reads one small list (the stack without the budget).
        urls["floor"] = "/api/v1/customers/acme/receipts"
        for _ in range(20):  # warm: key cache, connection, plans
            for url in urls.values():
                warm = client.get(url)
                assert warm.status_code == 200, warm.content
        samples: dict[str, list[float]] = {task: [] for task in urls}
        for _ in range(args.requests):
            for task, url in urls.items():
                began = time.perf_counter()
                response = client.get(url)
                samples[task].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.content
        return samples["big-task"], samples["small-task"], samples["floor"]

    big, baseline, floor = timed()
    body = client.get("/api/v1/customers/acme/tasks/big-task/budget?outcome=ticket_resolved").json()

    def p(samples: list[float], q: int) -> float:
        return statistics.quantiles(samples, n=100)[q - 1]

    print(f"budget endpoint, task with {args.events:,} events ({args.tail} not yet folded): "
          f"p50 {p(big, 50):.2f} ms, p99 {p(big, 99):.2f} ms (answer: {body})")
    print(f"baseline, task with 1 event: p50 {p(baseline, 50):.2f} ms, p99 {p(baseline, 99):.2f} ms")
    print(f"floor, GET of an empty receipts list: p50 {p(floor, 50):.2f} ms, p99 {p(floor, 99):.2f} ms")
    print(f"ratio to the 1-event task: p50 {p(big, 50) / p(baseline, 50):.2f}, p99 {p(big, 99) / p(baseline, 99):.2f}; "
          f"budget minus floor at p50: {p(big, 50) - p(floor, 50):.2f} ms")
    # What the rollups save: the task's cost read from its raw events instead (the fallback while the
    # rollups are re-rated), and from the rollups plus their tail.
    from metering.breakdown import task_cost_so_far
    from rollups.task_cost import task_cost_so_far_rolled

    customer_id = Customer.objects.get(organization=organization, external_id="acme").pk
    now = datetime.now(UTC)
    reads = {"raw events": lambda: task_cost_so_far(organization_id=organization.pk, customer_id=customer_id,
                                                    task_id="big-task", since=start - timedelta(days=40), now=now),
             "rollups + tail": lambda: task_cost_so_far_rolled(organization_id=organization.pk,
                                                               customer_id=customer_id, task_id="big-task", now=now)}
    medians = {}
    for name, read in reads.items():
        samples = []
        for _ in range(30):
            began = time.perf_counter()
            read()
            samples.append((time.perf_counter() - began) * 1000)
        medians[name] = statistics.median(samples)
        print(f"cost read from {name}: median {medians[name]:.2f} ms")
    print(f"rollups + tail / raw events: {medians['rollups + tail'] / medians['raw events']:.3f}")


if __name__ == "__main__":
    main()
