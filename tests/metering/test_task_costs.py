"""Cost to serve per task, by meter aggregation: the figures reconciliation puts on every outcome line."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering.models import Meter
from metering.selectors import task_costs
from tests.conftest import Vendor
from tests.factories import MeterFactory, RateFactory
from tests.metering.test_ingest_usage import URL, usage

pytestmark = pytest.mark.django_db

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)


def meter(vendor: Vendor, code: str, aggregation: str, unique_property: str = "", **rate: object) -> Meter:
    created = MeterFactory.create(organization=vendor.organization, code=code, aggregation=aggregation,
                           unique_property=unique_property)
    RateFactory.create(meter=created, **{"unit_cost": Decimal("0.50"), "per": Decimal(1), **rate})
    return created


def costs(vendor: Vendor, events: list[dict[str, object]]) -> dict[str | None, tuple[Decimal, int]]:
    assert vendor.api.post(URL, {"events": events}).json()["accepted"] == len(events)
    rows = task_costs(organization_id=vendor.organization.pk, customer_id=vendor.customer.pk, start=OCTOBER[0],
                      end=OCTOBER[1], cutoff=datetime(2100, 1, 1, tzinfo=UTC))
    assert {row.currency for row in rows} == {"USD"}
    return {row.task_id: (row.cost, row.events) for row in rows}


def seen(key: str, task: str, **properties: object) -> dict[str, object]:
    return usage(key, meter="active_users", quantity="1", task_id=task, properties=properties)


def test_a_unique_count_meter_costs_its_distinct_property_values_per_task(vendor: Vendor) -> None:
    meter(vendor, "active_users", "unique_count", "user.id-x")

    by_task = costs(vendor, [
        seen("a", "t1", **{"user.id-x": "ann"}), seen("b", "t1", **{"user.id-x": "bob"}),
        seen("c", "t1", **{"user.id-x": "ann"}), seen("d", "t2", **{"user.id-x": "ann"}),
        seen("e", "t2", other="no property: not counted"),
    ])

    assert by_task == {"t1": (Decimal("1.00"), 3), "t2": (Decimal("0.50"), 2)}


def test_a_unique_count_meter_without_a_property_counts_tasks(vendor: Vendor) -> None:
    meter(vendor, "active_users", "unique_count")

    by_task = costs(vendor, [seen("a", "t1"), seen("b", "t1"), seen("c", "t2")])

    assert by_task == {"t1": (Decimal("0.50"), 2), "t2": (Decimal("0.50"), 1)}


def test_mixed_meters_and_dimensioned_rates_are_priced_each_their_own_way(vendor: Vendor) -> None:
    """unique_count does not split into two stages: this runs the one-stage query, with dimensions."""
    tokens = meter(vendor, "llm_tokens", "sum", unit_cost=Decimal("2.50"), per=Decimal(1_000_000))
    RateFactory.create(meter=tokens, dimensions={"model": "gpt-4o"}, unit_cost=Decimal("10"), per=Decimal(1_000_000))
    meter(vendor, "active_users", "unique_count", "user")

    by_task = costs(vendor, [
        usage("k1", quantity="1000", task_id="t1", properties={"model": "gpt-4o"}),
        usage("k2", quantity="3000", task_id="t1", properties={"model": "mini"}),
        seen("u1", "t1", user="ann"), seen("u2", "t1", user="bob"),
    ])

    # 1,000 tokens at 10 and 3,000 at 2.50 per million, and two users at 0.50
    assert by_task == {"t1": (Decimal("0.0100") + Decimal("0.0075") + Decimal("1.00"), 4)}


def test_splittable_meters_with_dimensioned_rates_give_the_same_figures_in_two_stages(vendor: Vendor) -> None:
    tokens = meter(vendor, "llm_tokens", "sum", unit_cost=Decimal("2.50"), per=Decimal(1_000_000))
    RateFactory.create(meter=tokens, dimensions={"model": "gpt-4o"}, unit_cost=Decimal("10"), per=Decimal(1_000_000))
    meter(vendor, "peak_seats", "max", unit_cost=Decimal(3))

    by_task = costs(vendor, [
        usage("k1", quantity="1000", task_id="t1", properties={"model": "gpt-4o"}),
        usage("k2", quantity="2000", task_id="t1", properties={"model": "gpt-4o", "direction": "output"}),
        usage("k3", quantity="3000", task_id="t1", properties={"model": None}),
        usage("s1", meter="peak_seats", quantity="4", task_id="t1", properties={"model": "gpt-4o"}),
        usage("s2", meter="peak_seats", quantity="6", task_id="t1", properties={"model": "gpt-4o", "x": 1}),
    ])

    # 3,000 tokens at 10 and 3,000 at 2.50 per million; the peak of 6 seats at 3
    assert by_task == {"t1": (Decimal("0.0300") + Decimal("0.0075") + Decimal(18), 5)}

