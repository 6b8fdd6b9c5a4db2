"""Validating a batch: the event field types, the plain tier, the full model, and name resolution."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter, methodcaller
from types import GenericAlias
from typing import Annotated, Any, Generic, TypeVar

from django.conf import settings
from django.utils import timezone
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
)

from core.errors import DomainError, InvalidJson, PayloadTooLarge
from ingest.numbers import QuotedNumbers, loads_exact

EventT = TypeVar("EventT", bound=BaseModel)
T = TypeVar("T")


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("Out of range once converted to UTC.") from exc


# The field types of event models. An event time is aware and kept in UTC: PostgreSQL refuses offsets
# beyond ±15:59 that Python allows, and an instant near year 1 or 9999 may have no UTC spelling.
Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=100)]
EventTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
# The plain tiers' event time, kept as text: RFC 3339 in years 1900-2199 (far from the ends of Python's
# calendar), with a Z or ±hh:mm offset within PostgreSQL's ±15:59, and at most microseconds. Days 29-31
# of short months pass here; PostgreSQL (or Python) refuses them, and the batch goes to the full model.
PLAIN_TIMESTAMP = (
    r"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"
)
PlainTimestamp = Annotated[str, StringConstraints(pattern=PLAIN_TIMESTAMP)]


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}



def pydantic_errors(error: ValidationError, skip: int = 0) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"][skip:]]
        name = ".".join(location) or "event"
        errors.setdefault(name, item["msg"])
    return errors



def _batch_adapter(event_type: type) -> TypeAdapter[Any]:
    """`{"events": [event, ...]}` and nothing else."""
    events: Any = GenericAlias(list, (event_type,))  # list[event_type], built at run time
    return TypeAdapter(create_model(f"{event_type.__name__}Batch", __config__=ConfigDict(extra="forbid"),
                                    events=(events, ...)))


class PlainBatchValidator:
    """The fast tier of validation: the whole batch in its plainest spelling, or nothing.

    Returns the events as dicts of the values the client sent, or None when the body holds a
    backslash or any event departs from `event_type` (a TypedDict); the caller then validates the
    body again with its full model, which decides. With no backslash in the body, no string in it
    holds a quote, a backslash or a control character (JSON can only spell those with one), so
    every value can go into COPY's text format as it is. Strict mode (a fifth faster) accepts the same
    JSON here: no field of a plain event is coerced from another JSON type.

    `exact_number` names a field whose JSON numbers with a fraction are read as their text (see
    ingest.numbers): the body is quoted first when the first event's number has one, and after a
    refusal otherwise (a batch whose first fraction comes after an integer or a string pays one more
    parse).
    """

    def __init__(self, event_type: type, *, exact_number: str | None = None) -> None:
        self.adapter = _batch_adapter(event_type)
        self.numbers = QuotedNumbers(exact_number) if exact_number else None

    def validate(self, body: bytes) -> list[dict[str, Any]] | None:
        if b"\\" in body:
            return None
        if self.numbers is not None and self.numbers.first_has_fraction(body):
            return self._quoted(body, self.numbers)
        events = self._events(body)
        if events is None and self.numbers is not None:
            return self._quoted(body, self.numbers)
        return events

    def _quoted(self, body: bytes, numbers: QuotedNumbers) -> list[dict[str, Any]] | None:
        quoted = numbers.quote(body)
        if quoted is None:
            return None
        text, ends = quoted
        events = self._events(text)
        if events is None or ends != len(events):
            return None  # a quoted number may have been another field's (one in properties)
        return events

    def _events(self, body: bytes) -> list[dict[str, Any]] | None:
        try:
            events: list[dict[str, Any]] = self.adapter.validate_json(body, strict=True).events
        except ValidationError:
            return None
        if len(events) > settings.INGEST_MAX_BATCH:
            return None
        return events


def any_later_than(timestamps: list[str], moment: datetime) -> bool:
    """Whether any RFC 3339 timestamp (as the plain tiers admit them) is later than `moment`.

    Compares text and parses only the few that might be later: a "Z" stamp by its first 19
    characters against `moment` in UTC, one with an offset (never a day or more) against a day
    earlier. The usual batch, all "Z" and all past, is settled by one max() over the strings.
    """
    if not timestamps:
        return False
    moment = moment.astimezone(UTC)
    utc_bound = moment.strftime("%Y-%m-%dT%H:%M:%S")
    offset_bound = (moment - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    latest_text = max(timestamps)[:19]
    if latest_text < offset_bound or (latest_text < utc_bound and all(map(_ends_in_z, timestamps))):
        return False
    for stamp in timestamps:
        if stamp[:19] >= (utc_bound if stamp[-1] == "Z" else offset_bound) and datetime.fromisoformat(stamp) > moment:
            return True
    return False


_ends_in_z = methodcaller("endswith", "Z")


class BatchValidator(Generic[EventT]):
    """Validates `{"events": [...]}` against an event model: one pass over the bytes when all is well."""

    def __init__(self, event_model: type[EventT]) -> None:
        self.event_model = event_model
        self.batch_adapter = _batch_adapter(event_model)
        self.item_adapter = TypeAdapter(event_model)

    def validate(self, body: bytes) -> tuple[list[EventT], list[int], list[dict[str, Any]]]:
        """Returns the valid events, their indexes in the batch, and {index, errors} for rejected ones.

        Raises DomainError (400) for a body that is not a batch, PayloadTooLarge above the limit.
        """
        try:
            events: list[EventT] = self.batch_adapter.validate_json(body).events
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            if first["type"] == "json_invalid":  # the only error then: both tiers read JSON as pydantic does
                raise InvalidJson(f"The body is not valid JSON: {first['msg']}", field="body") from exc
            return self._validate_each(body)
        if len(events) > settings.INGEST_MAX_BATCH:
            raise self._too_many(len(events))
        return self._storable(events, list(range(len(events))), [])

    @staticmethod
    def _storable(events: list[EventT], indexes: list[int], rejected: list[dict[str, Any]]
                  ) -> tuple[list[EventT], list[int], list[dict[str, Any]]]:
        """Reject the events holding what PostgreSQL cannot store: NUL characters, or NaN and infinite
        numbers (the JSON parser accepts NaN and Infinity, and a literal beyond a double's range)."""
        kept, kept_indexes = [], []
        for event, index in zip(events, indexes, strict=True):
            errors = {name: problem for name, value in event if (problem := _unstorable(value))}
            if errors:
                rejected.append({"index": index, "errors": errors})
            else:
                kept.append(event)
                kept_indexes.append(index)
        rejected.sort(key=lambda item: item["index"])
        return kept, kept_indexes, rejected

    def _too_many(self, count: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"At most {settings.INGEST_MAX_BATCH} events per request; got {count}.",
                               field="events")

    def _validate_each(self, body: bytes) -> tuple[list[EventT], list[int], list[dict[str, Any]]]:
        """The slow path, for valid JSON with an error somewhere or a number pydantic would read as a float:
        parsed again keeping numbers' text, then the shape error or each bad event."""
        document = loads_exact(body)
        if not isinstance(document, dict) or not isinstance(document.get("events"), list):
            raise DomainError('The body must be an object {"events": [...]}.', field="events")
        extra = set(document) - {"events"}
        if extra:
            raise DomainError(f"Unknown top-level field {sorted(extra)[0]!r}.", field=sorted(extra)[0])
        raw_events = document["events"]
        if len(raw_events) > settings.INGEST_MAX_BATCH:
            raise self._too_many(len(raw_events))
        try:
            events: list[EventT] = self.batch_adapter.validate_python(document).events
            return self._storable(events, list(range(len(events))), [])
        except ValidationError:
            pass
        valid: list[EventT] = []
        indexes: list[int] = []
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_events):
            try:
                valid.append(self.item_adapter.validate_python(raw))
                indexes.append(index)
            except ValidationError as exc:
                rejected.append({"index": index, "errors": pydantic_errors(exc)})
        return self._storable(valid, indexes, rejected)



@dataclass
class CheckedBatch(Generic[EventT]):
    """A batch validated event by event: the events to store and what became of the others."""

    events: list[EventT]  # valid, every name resolved, the first of each idempotency key
    ids: dict[str, dict[str, Any]]  # per named field, name -> what it resolved to
    repeats: int
    rejected: list[dict[str, Any]]
    now: datetime

    def result(self, stored: int) -> BatchResult:
        return BatchResult(accepted=stored, duplicates=self.repeats + len(self.events) - stored,
                           rejected=sorted(self.rejected, key=itemgetter("index")))


def check_batch(
    validator: "BatchValidator[EventT]", body: bytes, *,
    resolvers: dict[str, tuple[str, Callable[[set[str]], dict[str, Any]]]],
) -> CheckedBatch[EventT]:
    """Validate a batch event by event and resolve its names ({field: (label, resolve)}); an event
    naming an unknown one or dated more than INGEST_MAX_FUTURE_SECONDS ahead is rejected, each
    error naming its field."""
    events, indexes, rejected = validator.validate(body)
    now = timezone.now()
    ids = {name: resolve({getattr(event, name) for event in events}) if events else {}
           for name, (_, resolve) in resolvers.items()}
    latest_allowed = now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    kept = []
    for index, event in zip(indexes, events, strict=True):
        errors = {}
        for name, (label, _) in resolvers.items():
            value = getattr(event, name)
            if value not in ids[name]:
                errors[name] = f"Unknown {label} {value!r}."
        if event.timestamp > latest_allowed:  # type: ignore[attr-defined]
            errors["timestamp"] = f"More than {settings.INGEST_MAX_FUTURE_SECONDS} seconds in the future."
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            kept.append(event)
    kept, repeats = keep_first_of_each_key(kept)
    return CheckedBatch(events=kept, ids=ids, repeats=repeats, rejected=rejected, now=now)



def _unstorable(value: Any) -> str | None:
    """Why PostgreSQL could not store this value as sent, or None."""
    if isinstance(value, str):
        return "Must not contain NUL (\\u0000) characters." if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "Numbers must be finite: no NaN, Infinity or out-of-range literal."
    if isinstance(value, dict):
        return next((problem for key, item in value.items() if (problem := _unstorable(key) or _unstorable(item))),
                    None)
    if isinstance(value, list | tuple):
        return next((problem for item in value if (problem := _unstorable(item))), None)
    return None



def keep_first_of_each_key(events: list[T], key: Callable[[T], str] = attrgetter("idempotency_key")
                           ) -> tuple[list[T], int]:
    """Keep the first event of each idempotency key in a batch; count the repeats as duplicates."""
    if len(set(map(key, events))) == len(events):
        return events, 0
    seen: set[str] = set()
    kept = []
    for event in events:
        name = key(event)
        if name not in seen:
            seen.add(name)
            kept.append(event)
    return kept, len(events) - len(kept)


