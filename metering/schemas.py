"""Pydantic models of the ingestion hot path: one validation pass over the raw JSON."""

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class UsageEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Key
    customer: Key
    meter: Code
    quantity: Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=38, decimal_places=12)]
    timestamp: AwareDatetime
    task_id: Key | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
