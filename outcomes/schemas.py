"""Pydantic models of the outcome ingestion hot path."""

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class OutcomeEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Key
    customer: Key
    outcome: Code
    task_id: Key
    timestamp: AwareDatetime
    properties: dict[str, Any] = Field(default_factory=dict)
