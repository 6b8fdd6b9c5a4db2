"""The shared shape of batch ingestion: read a (gzip) JSON body, validate it in one pass, write by COPY.

Used by metering (usage events) and outcomes (outcome events), which know nothing of each other.
"""

import gzip
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from pydantic import BaseModel, TypeAdapter, ValidationError

from config.errors import DomainError

EventT = TypeVar("EventT", bound=BaseModel)


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
    """The raw request body, gunzipped when sent with Content-Encoding: gzip, within the size limit."""
    limit = settings.INGEST_MAX_BODY_BYTES
    body = request.body
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in {"gzip", "x-gzip"}:
        try:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = decompressor.decompress(body, limit + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
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


class BatchValidator(Generic[EventT]):
    """Validates `{"events": [...]}` against an event model: one pass over the bytes when all is well."""

    def __init__(self, event_model: type[EventT]) -> None:
        self.event_model = event_model
        self.batch_adapter = TypeAdapter(dict[str, list[event_model]])  # type: ignore[valid-type]
        self.item_adapter = TypeAdapter(event_model)

    def validate(self, body: bytes) -> tuple[list[tuple[int, EventT]], list[dict[str, Any]]]:
        """Returns (index, event) for valid events and {index, errors} for rejected ones."""
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
            raise PayloadTooLarge(
                f"At most {settings.INGEST_MAX_BATCH} events per request; got {len(raw_events)}.", field="events"
            )
        try:
            events = self.batch_adapter.validate_python(document)["events"]
            return list(enumerate(events)), []
        except ValidationError:
            pass
        valid: list[tuple[int, EventT]] = []
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_events):
            try:
                valid.append((index, self.item_adapter.validate_python(raw)))
            except ValidationError as exc:
                rejected.append({"index": index, "errors": pydantic_errors(exc)})
        return valid, rejected


def first_of_each_key(events: Iterable[tuple[int, Any]]) -> tuple[list[tuple[int, Any]], int]:
    """Keep the first event of each idempotency key in a batch; count the repeats as duplicates."""
    seen: set[str] = set()
    kept = []
    repeats = 0
    for index, event in events:
        if event.idempotency_key in seen:
            repeats += 1
            continue
        seen.add(event.idempotency_key)
        kept.append((index, event))
    return kept, repeats


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows into a table on the current connection (inside the caller's transaction)."""
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def copy_new_rows(
    *,
    fast: Callable[[], int],
    slow: Callable[[], int],
) -> int:
    """Run `fast` (a COPY that fails on any known key) and fall back to `slow` (ON CONFLICT) on a duplicate.

    The database's unique index decides what is new; nothing is checked before the write, so
    concurrent replays of one batch store each event once. Returns how many rows were new.
    """
    try:
        with transaction.atomic():
            return fast()
    except IntegrityError:
        return slow()


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def dumps_properties(value: dict[str, Any]) -> str:
    return orjson.dumps(value, default=json_default).decode()
