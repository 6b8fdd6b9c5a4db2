"""Who asks decides what they see: the one rule for pages, exports and API answers alike.

A caller bound to one customer (a customer's portal user, a customer-scoped API key) is the customer
audience: it reads what it is billed and what it got, never what serving it cost the vendor. Everyone
else of the organization is the vendor audience and reads every figure.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from accounts.models import Customer


class Audience(StrEnum):
    VENDOR = "vendor"
    CUSTOMER = "customer"


# Figures and line columns that are the vendor's business: cost to serve and everything derived from it.
VENDOR_ONLY_FIELDS = frozenset({
    "cost",
    "cost_currency",
    "cost_to_serve",
    "cost_of_billed_tasks",
    "unbilled_cost",
    "unbilled_tasks",
    "cost_per_outcome",
    "margin",
    "margin_rate",
})


def audience_for(*, customer: Customer | None) -> Audience:
    """The audience of a caller scoped to `customer` (None: the organization itself)."""
    return Audience.VENDOR if customer is None else Audience.CUSTOMER


def sees_cost(audience: Audience) -> bool:
    return audience is Audience.VENDOR


def visible_fields(figures: Mapping[str, Any], *, audience: Audience) -> dict[str, Any]:
    """`figures` without the vendor-only keys when the customer asks."""
    if sees_cost(audience):
        return dict(figures)
    return {key: value for key, value in figures.items() if key not in VENDOR_ONLY_FIELDS}
