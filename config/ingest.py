"""The shared shape of batch ingestion: read a (gzip) JSON body, validate it in one pass, write by COPY.

Used by metering (usage events) and outcomes (outcome events), which know nothing of each other.
The common case, a valid batch of keys never seen before, costs one pydantic pass over the bytes,
no per-event Python beyond building the COPY row, one transaction of COPYs, and no query to
resolve customers or meters once they are cached.
"""

import base64
import binascii
import functools
import gc
import json
import math
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter, methodcaller
from typing import Annotated, Any, Generic, ParamSpec, TypeVar

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
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
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import DomainError

EventT = TypeVar("EventT", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


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


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def read_body(request: HttpRequest) -> bytes:
    """The raw request body, gunzipped when sent with Content-Encoding: gzip, within the size limit.

    Read from the stream rather than `request.body`, whose DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would
    refuse batches our own limit allows.
    """
    limit = settings.INGEST_MAX_BODY_BYTES
    if not request.META.get("CONTENT_LENGTH") and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # No length: Django would read nothing, so read the server's de-chunked stream (gunicorn's) itself.
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = request.read(limit + 1)
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in {"gzip", "x-gzip"}:
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
        except zlib.error as exc:
            raise DomainError("The body is not valid gzip.", field="body", code="bad_encoding") from exc
    elif encoding not in {"", "identity"}:
        raise DomainError(f"Unsupported Content-Encoding {encoding!r}; use gzip.", field="Content-Encoding",
                          code="bad_encoding")
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.", field="body")
    return body


def pydantic_errors(error: ValidationError, skip: int = 0) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"][skip:]]
        name = ".".join(location) or "event"
        errors.setdefault(name, item["msg"])
    return errors


def gc_paused(function: Callable[P, R]) -> Callable[P, R]:
    """Run the decorated function with the cyclic garbage collector paused.

    A batch allocates tens of thousands of short-lived, acyclic objects, freed by reference
    counting; left on, the collector would walk them and the Django heap several times per batch.
    It is paused around the whole call so that the batch's objects are gone when it comes back:
    switched on while they were still alive, its first pass would walk every one of them.
    """
    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()

    return paused


class PlainBatchValidator:
    """The fast tier of validation: the whole batch in its plainest spelling, or nothing.

    Returns the events as dicts of the values the client sent, or None when the body holds a
    backslash or any event departs from `event_type` (a TypedDict); the caller then validates the
    body again with its full model, which decides. With no backslash in the body, no string in it
    holds a quote, a backslash or a control character (JSON can only spell those with one), so
    every value can go into COPY's text format as it is. Strict mode (a fifth faster) accepts the same
    JSON here: no field of a plain event is coerced from another JSON type.
    """

    def __init__(self, event_type: type) -> None:
        batch_model = create_model(
            f"{event_type.__name__}Batch", __config__=ConfigDict(extra="forbid"), events=(list[event_type], ...)
        )
        self.adapter = TypeAdapter(batch_model)

    def validate(self, body: bytes) -> list[dict[str, Any]] | None:
        if b"\\" in body:
            return None
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
        batch_model = create_model(
            f"{event_model.__name__}Batch", __config__=ConfigDict(extra="forbid"), events=(list[event_model], ...)
        )
        self.batch_adapter = TypeAdapter(batch_model)
        self.item_adapter = TypeAdapter(event_model)

    def validate(self, body: bytes) -> tuple[list[EventT], list[int], list[dict[str, Any]]]:
        """Returns the valid events, their indexes in the batch, and {index, errors} for rejected ones.

        Raises DomainError (400) for a body that is not a batch, PayloadTooLarge above the limit.
        """
        try:
            events: list[EventT] = self.batch_adapter.validate_json(body).events
        except ValidationError:
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
        """The slow path, for a batch with an error somewhere: find the shape error or each bad event."""
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise DomainError(f"The body is not valid JSON: {exc}", field="body", code="invalid_json") from exc
        if not isinstance(document, dict) or not isinstance(document.get("events"), list):
            raise DomainError('The body must be an object {"events": [...]}.', field="events")
        extra = set(document) - {"events"}
        if extra:
            raise DomainError(f"Unknown top-level field {sorted(extra)[0]!r}.", field=sorted(extra)[0])
        raw_events = document["events"]
        if len(raw_events) > settings.INGEST_MAX_BATCH:
            raise self._too_many(len(raw_events))
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


def json_text(value: Any) -> str | None:
    """`value` as JSON for a jsonb column, or None when it holds a number JSON cannot spell (NaN or
    infinite, which orjson would quietly write as null). Integers beyond 64 bits, which orjson
    refuses, go through the standard library, which keeps every digit."""
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            return None
    if b"null" in text and _unstorable(value):  # a null may be a non-finite float orjson wrote so
        return None
    return text.decode()


class HitCache:
    """Per-process memory of name -> id lookups that succeeded, for a few seconds.

    Only hits are kept: a customer or meter created a moment ago is found at once, while a renamed
    or deleted one may be used for at most `seconds` more.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[tuple[int, str], tuple[float, Any]] = {}

    def get_many(
        self, organization_id: int, names: set[str], fetch: Callable[[set[str]], dict[str, Any]]
    ) -> dict[str, Any]:
        now = time.monotonic()
        found: dict[str, Any] = {}
        missing: set[str] = set()
        entries = self._entries
        for name in names:
            entry = entries.get((organization_id, name))
            if entry is not None and now - entry[0] < self.seconds:
                found[name] = entry[1]
            else:
                missing.add(name)
        if missing:
            fetched = fetch(missing)
            if len(entries) > 100_000:  # bound the memory of a process that sees many tenants
                entries.clear()
            for name, value in fetched.items():
                entries[(organization_id, name)] = (now, value)
            found.update(fetched)
        return found

    def clear(self) -> None:
        self._entries.clear()


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


COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_line(values: Iterable[Any]) -> str:
    """One row in COPY's text format, escaped: for values that may hold tabs, newlines or backslashes."""
    return "\t".join(
        COPY_NULL if value is None else
        (value.isoformat() if isinstance(value, datetime) else str(value)).translate(_COPY_ESCAPES)
        for value in values
    ) + "\n"


def copy_text(table: str, columns: Sequence[str], text: str) -> None:
    """COPY rows already in COPY's text format into a table (in the caller's transaction, if any)."""
    connection.ensure_connection()  # with every name cached, this may be the request's first query
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(text)


def copy_text_staged(staging: str, table: str, columns: Sequence[str], text: str) -> None:
    """COPY rows into this session's temporary `staging` table, shaped like `table` and emptied first
    (it lives for the connection; its rows go at commit)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
        )
        cursor.execute(f"DELETE FROM {staging}")
    copy_text(staging, columns, text)


def store_new_rows(*, fast: Callable[[], None], slow: Callable[[], int], count: int) -> int:
    """Run `fast` (one COPY that fails on any known key) and fall back to `slow` on a duplicate.

    The database's unique index decides what is new; nothing is checked before the write, so
    concurrent replays of one batch store each event once. Keys must reach the index in one order
    (sorted by the caller, or by the usage table's trigger) so that concurrent batches with
    overlapping keys wait for each other instead of deadlocking. `fast` is a single statement, so
    outside a transaction it runs as its own (no BEGIN and COMMIT round trips) and a duplicate
    rolls back all of it; inside one (a caller's atomic block) a savepoint keeps that transaction
    usable for `slow`. Returns how many rows were new.
    """
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                fast()
        else:
            fast()
        return count
    except psycopg.errors.UniqueViolation:
        pass
    with transaction.atomic():
        return slow()


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def dumps_properties(value: dict[str, Any]) -> str:
    return orjson.dumps(value, default=json_default).decode()


# The event debugger's cursor: the (timestamp, id) of the last row of a page, opaque to clients.

def cursor_encode(timestamp: datetime, row_id: int) -> str:
    raw = orjson.dumps([timestamp.isoformat(), row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        timestamp, row_id = orjson.loads(raw)
        moment = datetime.fromisoformat(timestamp)
        if moment.tzinfo is None or not isinstance(row_id, int):
            raise ValueError
        return moment, row_id
    except (ValueError, TypeError, orjson.JSONDecodeError, binascii.Error) as exc:
        raise DomainError("Not a cursor returned by this API.", field="cursor") from exc


class EventQuery(serializers.Serializer):
    """Filters of the event debugger's lists; `from` is inclusive, `to` exclusive."""

    customer = serializers.CharField(max_length=200, help_text="The customer's external_id.")
    task_id = serializers.CharField(max_length=200, required=False)
    locals()["from"] = serializers.DateTimeField(required=False)
    to = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


def page_response(request: Request, rows: list[Any], limit: int, results: list[dict[str, Any]]) -> Response:
    """A page of the newest-first list and, when more rows follow, the cursor and URL of the next one."""
    next_cursor = None
    next_url = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = cursor_encode(last.timestamp, last.pk)
        params = request.query_params.copy()
        params["cursor"] = next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return Response({"results": results, "next_cursor": next_cursor, "next": next_url})


def event_page_schema(query: type[serializers.Serializer], item: serializers.Serializer, name: str) -> Any:
    return extend_schema(
        parameters=[query],
        responses=inline_serializer(name=f"{name}Page", fields={
            "results": item, "next_cursor": serializers.CharField(allow_null=True),
            "next": serializers.URLField(allow_null=True),
        }),
        description="The event debugger: newest first, by cursor. 404 names an unknown customer or code.",
    )
