"""The demo's catalog (customers, meters, rates, outcome types) and its generator of tasks.

Everything here is data and pure functions: the same seed and month give the same tasks, events and
idempotency keys, so seeding twice stores nothing new. `seed_demo` loads what this module produces
through the real ingestion services.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ORGANIZATION_SLUG = "acme-ai"
ORGANIZATION_NAME = "Acme AI"
CURRENCY = "USD"
# Outcome types carry one currency and reconciliation bills a customer only in that currency,
# so every demo customer is billed in USD.

# Month-over-month growth in tasks, so the ROI trend over past months has a slope.
MONTHLY_GROWTH = 1.15

# Prices take effect well before any demo event, so every event finds its rate.
RATES_EFFECTIVE_FROM = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MeterSpec:
    code: str
    name: str
    unit: str
    aggregation: str


METERS = (
    MeterSpec("llm_tokens", "LLM tokens (by model and direction)", "token", "sum"),
    MeterSpec("gpu_seconds", "GPU seconds (by GPU type)", "second", "sum"),
)


@dataclass(frozen=True)
class RateSpec:
    meter: str
    dimensions: dict[str, str]
    unit_cost: Decimal
    per: Decimal


_MILLION = Decimal(1_000_000)
_HOUR = Decimal(3600)


def _tokens(model: str, direction: str, usd_per_million: str) -> RateSpec:
    dimensions = {"model": model, "direction": direction}
    return RateSpec("llm_tokens", dimensions, Decimal(usd_per_million), _MILLION)


def _gpu(gpu_type: str, usd_per_hour: str) -> RateSpec:
    return RateSpec("gpu_seconds", {"gpu_type": gpu_type}, Decimal(usd_per_hour), _HOUR)


# Public list prices as of 2025, in USD: OpenAI and Anthropic API pricing pages (per 1M tokens;
# cached_input is OpenAI's cached input and Anthropic's cache read), and on-demand cloud GPU list
# prices (Lambda: H100 SXM $2.99 and A100 SXM $1.79 per GPU-hour).
RATES = (
    _tokens("gpt-4o", "input", "2.50"),
    _tokens("gpt-4o", "cached_input", "1.25"),
    _tokens("gpt-4o", "output", "10.00"),
    _tokens("gpt-4o-mini", "input", "0.15"),
    _tokens("gpt-4o-mini", "cached_input", "0.075"),
    _tokens("gpt-4o-mini", "output", "0.60"),
    _tokens("claude-sonnet-4", "input", "3.00"),
    _tokens("claude-sonnet-4", "cached_input", "0.30"),
    _tokens("claude-sonnet-4", "output", "15.00"),
    _gpu("H100", "2.99"),
    _gpu("A100", "1.79"),
)


@dataclass(frozen=True)
class OutcomeTypeSpec:
    code: str
    name: str
    price: Decimal
    verification_window_hours: int
    value: Decimal  # the human baseline: what one outcome would cost the customer done by people


OUTCOME_TYPES = (
    OutcomeTypeSpec("ticket_resolved", "Support ticket resolved", Decimal("0.99"), 72, Decimal("6.50")),
    OutcomeTypeSpec("code_review_completed", "Code review completed", Decimal("4.00"), 24, Decimal("45.00")),
    OutcomeTypeSpec("document_summarized", "Document summarized", Decimal("0.25"), 1, Decimal("3.00")),
)


@dataclass(frozen=True)
class PriceBookSpec:
    """A customer's negotiated prices; a customer without one pays the outcome types' list prices."""

    customer: str
    entries: tuple[dict[str, Any], ...]  # keyword arguments of billing's EntrySpec
    platform_fee: Decimal = Decimal(0)
    minimum_commit: Decimal = Decimal(0)
    spend_cap: Decimal | None = None


PRICE_BOOKS = (
    # Globex: a monthly platform fee, and tickets get cheaper past the first 800 of a month.
    PriceBookSpec("globex", (
        {"outcome": "ticket_resolved", "model": "graduated",
         "tiers": [{"up_to": 800, "unit_price": "0.99"}, {"up_to": None, "unit_price": "0.79"}]},
        {"outcome": "document_summarized", "model": "flat", "unit_price": Decimal("0.25")},
    # A spend cap on outcome charges a little above a month's tickets: the 50% and 80% alerts fire.
    ), platform_fee=Decimal("250.00"), spend_cap=Decimal("1200.00")),
    # Initech: a volume discount on every review once a month passes 500, and a minimum commit.
    PriceBookSpec("initech", (
        {"outcome": "code_review_completed", "model": "volume",
         "tiers": [{"up_to": 500, "unit_price": "4.00"}, {"up_to": None, "unit_price": "3.50"}]},
    ), minimum_commit=Decimal("2000.00")),
    # Umbrella: list prices, with a minimum commit above what it uses, so each invoice has a true-up line.
    PriceBookSpec("umbrella", (), minimum_commit=Decimal("400.00")),
)


@dataclass(frozen=True)
class Workload:
    """How one kind of task spends: LLM calls ("steps"), tokens per call, GPU time, and how it ends."""

    outcome: str
    task_prefix: str
    success: float  # share of tasks that end in an outcome; the rest cost money and produce nothing
    reversal: float  # share of outcomes reversed later (ticket reopened, review rejected)
    steps: tuple[int, int]
    models: tuple[tuple[str, float], ...]
    input_tokens: int  # median per call; drawn log-normally
    output_tokens: int
    cached: float  # chance a call reads part of its prompt from the cache
    gpu: tuple[str, float, int] | None = None  # gpu type, chance per task, median seconds


WORKLOADS = {
    "support": Workload(
        outcome="ticket_resolved", task_prefix="TKT", success=0.86, reversal=0.03, steps=(2, 8),
        models=(("gpt-4o-mini", 0.55), ("claude-sonnet-4", 0.45)),
        input_tokens=12_000, output_tokens=450, cached=0.6,
    ),
    "review": Workload(
        outcome="code_review_completed", task_prefix="PR", success=0.91, reversal=0.01, steps=(4, 12),
        models=(("claude-sonnet-4", 0.6), ("gpt-4o", 0.4)),
        input_tokens=18_000, output_tokens=1_100, cached=0.8, gpu=("H100", 0.5, 90),
    ),
    "documents": Workload(
        outcome="document_summarized", task_prefix="DOC", success=0.97, reversal=0.005, steps=(1, 3),
        models=(("gpt-4o-mini", 0.5), ("gpt-4o", 0.5)),
        input_tokens=14_000, output_tokens=700, cached=0.1, gpu=("A100", 0.7, 40),
    ),
}


@dataclass(frozen=True)
class CustomerSpec:
    external_id: str
    name: str
    email: str
    share: float  # of the organization's tasks
    mix: tuple[tuple[str, float], ...]  # workload name, share of this customer's tasks


CUSTOMERS = (
    CustomerSpec("globex", "Globex Corporation", "ap@globex.example", 0.5,
                 (("support", 0.8), ("documents", 0.2))),
    CustomerSpec("initech", "Initech", "finance@initech.example", 0.3,
                 (("review", 0.85), ("support", 0.15))),
    CustomerSpec("umbrella", "Umbrella Corp", "billing@umbrella.example", 0.2,
                 (("documents", 0.7), ("support", 0.3))),
)


@dataclass
class Task:
    customer: str
    task_id: str
    workload: Workload
    usage: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    reversed: bool = False

    @property
    def ends_at(self) -> datetime:
        times = [event["timestamp"] for event in self.usage]
        if self.outcome is not None:
            times.append(self.outcome["timestamp"])
        return max(times)


def month_bounds(month_start: datetime) -> tuple[datetime, datetime]:
    year, month = month_start.year + month_start.month // 12, month_start.month % 12 + 1
    return month_start, datetime(year, month, 1, tzinfo=UTC)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in weighted], weights=[weight for _, weight in weighted])[0]


def _lognormal(rng: random.Random, median: float, sigma: float = 0.5) -> int:
    return max(1, round(rng.lognormvariate(math.log(median), sigma)))


def _task_start(rng: random.Random, start: datetime, days: int) -> datetime:
    """Busier on weekdays and in (UTC) working hours, never in the last hour of the month."""
    weights = [1.0 if (start + timedelta(days=day)).weekday() < 5 else 0.35 for day in range(days)]
    day = rng.choices(range(days), weights=weights)[0]
    hour = min(22, max(0, round(rng.gauss(14, 4))))
    return start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))


def _usage_event(key: str, customer: str, task_id: str, meter: str, quantity: int | str, at: datetime,
                 properties: dict[str, str]) -> dict[str, Any]:
    return {
        "idempotency_key": key, "customer": customer, "meter": meter, "quantity": str(quantity),
        "timestamp": at, "task_id": task_id, "properties": properties,
    }


def _build_task(rng: random.Random, customer: str, task_id: str, workload: Workload, at: datetime) -> Task:
    task = Task(customer=customer, task_id=task_id, workload=workload)
    succeeded = rng.random() < workload.success
    steps = rng.randint(*workload.steps)
    if not succeeded:  # failed tasks often loop before giving up
        steps += rng.randint(0, workload.steps[1])
    model = _pick(rng, workload.models)
    for step in range(steps):
        at += timedelta(seconds=rng.randint(2, 25))
        prompt = _lognormal(rng, workload.input_tokens)
        key = f"demo:{task_id}:{step}"
        if rng.random() < workload.cached:
            cached = int(prompt * rng.uniform(0.3, 0.8))
            prompt -= cached
            task.usage.append(_usage_event(f"{key}:cached_input", customer, task_id, "llm_tokens", cached, at,
                                           {"model": model, "direction": "cached_input"}))
        task.usage.append(_usage_event(f"{key}:input", customer, task_id, "llm_tokens", prompt, at,
                                       {"model": model, "direction": "input"}))
        task.usage.append(_usage_event(f"{key}:output", customer, task_id, "llm_tokens",
                                       _lognormal(rng, workload.output_tokens, 0.6), at,
                                       {"model": model, "direction": "output"}))
    if workload.gpu is not None and rng.random() < workload.gpu[1]:
        gpu_type, _, median = workload.gpu
        seconds = Decimal(rng.lognormvariate(math.log(median), 0.6)).quantize(Decimal("0.1"))
        at += timedelta(seconds=int(seconds))
        task.usage.append(_usage_event(f"demo:{task_id}:gpu", customer, task_id, "gpu_seconds", str(seconds),
                                       at, {"gpu_type": gpu_type}))
    if succeeded:
        at += timedelta(seconds=rng.randint(1, 60))
        task.outcome = {
            "idempotency_key": f"demo:{task_id}:outcome", "customer": customer, "outcome": workload.outcome,
            "task_id": task_id, "timestamp": at, "properties": {"model": model, "steps": steps},
        }
        task.reversed = rng.random() < workload.reversal
    return task


def month_tasks(*, seed: int, month_start: datetime, tasks_per_31_days: int) -> list[Task]:
    """Every task of the month, in time order; the caller drops those not finished yet."""
    start, end = month_bounds(month_start)
    days = (end - start).days
    total = round(tasks_per_31_days * days / 31)
    tasks: list[tuple[datetime, Task]] = []
    for customer in CUSTOMERS:
        # One generator per customer and month: a customer's tasks do not depend on the others'.
        rng = random.Random(f"{seed}:{customer.external_id}:{start:%Y-%m}")
        for number in range(1, round(total * customer.share) + 1):
            workload = WORKLOADS[_pick(rng, customer.mix)]
            task_id = f"{customer.external_id}-{workload.task_prefix}-{start:%y%m}-{number:05d}"
            at = _task_start(rng, start, days)
            tasks.append((at, _build_task(rng, customer.external_id, task_id, workload, at)))
    tasks.sort(key=lambda item: (item[0], item[1].task_id))
    return [task for _, task in tasks]


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for offset in range(0, len(items), size):
        yield items[offset:offset + size]
