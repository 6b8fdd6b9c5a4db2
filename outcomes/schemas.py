"""Pydantic models of the outcome ingestion hot path.

`OutcomeEventIn` is the contract. `OutcomeEventPlain` is the fast tier, as for usage events (see
metering.schemas): the common spelling, its values kept as sent; a batch it refuses in any way is
validated again by `OutcomeEventIn`, which decides.
"""

from typing import Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ingest.validate import Code, EventTime, Key, PlainTimestamp


class OutcomeEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Key
    customer: Key
    outcome: Code
    task_id: Key
    timestamp: EventTime
    properties: dict[str, Any] = Field(default_factory=dict)


@with_config(ConfigDict(extra="forbid"))
class OutcomeEventPlain(TypedDict):
    idempotency_key: Key
    customer: Key
    outcome: Code
    task_id: Key
    timestamp: PlainTimestamp
    properties: NotRequired[dict[str, Any]]
