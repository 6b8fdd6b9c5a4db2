"""Pydantic models of the ingestion hot path: one validation pass over the raw JSON.

`UsageEventIn` is the contract: it decides what is accepted. `UsageEventPlain` is the fast tier, the
spelling nearly every client sends (a quantity as a decimal string, a JSON integer or a JSON decimal
number without exponent; an RFC 3339 timestamp), checked without building a single Python object per
field: its values go to COPY as the client wrote them. A batch it refuses in any way is validated
again by `UsageEventIn`, so it may only ever accept less, and what it accepts must mean the same to
PostgreSQL as to `UsageEventIn` (tests/metering/test_plain_tier.py). No quantity is ever read through a
float: JSON numbers are read from their text (ingest.numbers).
"""

from decimal import Decimal
from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ingest.numbers import exact_decimal
from ingest.validate import Code, EventTime, Key, PlainTimestamp

# At most 26 digits before the point and 12 after: what numeric(38, 12) holds, and within the
# max_digits / decimal_places that UsageEventIn enforces. A JSON decimal number reaches the plain tier
# quoted, as the same text (ingest.numbers.QuotedNumbers); a JSON integer is read exactly as an int.
PLAIN_QUANTITY = r"^[0-9]{1,26}(\.[0-9]{1,12})?$"
PlainQuantity = (Annotated[str, StringConstraints(pattern=PLAIN_QUANTITY)]
                 | Annotated[int, Field(ge=0, lt=10**26)])


class UsageEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    idempotency_key: Key
    customer: Key
    meter: Code
    quantity: Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=38, decimal_places=12),
                        BeforeValidator(exact_decimal)]
    timestamp: EventTime
    task_id: Key | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


@with_config(ConfigDict(extra="forbid"))
class UsageEventPlain(TypedDict):
    idempotency_key: Key
    customer: Key
    meter: Code
    quantity: PlainQuantity
    timestamp: PlainTimestamp
    task_id: NotRequired[Key | None]
    properties: NotRequired[dict[str, Any]]
