"""Pydantic models of the outcome ingestion hot path."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from config.ingest import Code, EventTime, Key


class OutcomeEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Key
    customer: Key
    outcome: Code
    task_id: Key
    timestamp: EventTime
    properties: dict[str, Any] = Field(default_factory=dict)
