"""The one ingestion pipeline: each event-owning app declares an `EventKind`, and `ingest` does the rest.

plain tier (the whole batch as sent) -> names from cache -> no event in the future -> first of each key
-> COPY lines built by the app -> one COPY, or only the new rows on a known key; anything the plain tier
cannot settle goes to the checked tier, which validates event by event with the full model and names
each rejected event and field.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter, itemgetter
from typing import Any, Generic, TypeVar

import psycopg
from django.conf import settings
from django.utils import timezone
from pydantic import BaseModel

from accounts.selectors import customer_ids_cached
from ingest.body import gc_paused
from ingest.store import copy_text, copy_text_staged, insert_new_rows, store_new_rows
from ingest.validate import (
    BatchResult,
    BatchValidator,
    PlainBatchValidator,
    any_later_than,
    check_batch,
    keep_first_of_each_key,
)

E = TypeVar("E")
EventT = TypeVar("EventT", bound=BaseModel)


@dataclass(frozen=True)
class Names:
    """A field that names something of the organization's: its label in errors, and how names resolve
    (organization id, names -> {name: what it resolves to}; an unknown name is left out)."""

    label: str
    resolve: Callable[[int, set[str]], dict[str, Any]]


def _customer_ids(organization_id: int, names: set[str]) -> dict[str, int]:
    return customer_ids_cached(organization_id=organization_id, external_ids=names)


customers = Names("customer", _customer_ids)


@dataclass(frozen=True)
class Rows(Generic[E]):
    """What a kind's line builder gets: the events to store (the first of each key, sorted by key),
    what each named field resolved to, and when the batch was received."""

    organization_id: int
    events: list[E]
    ids: dict[str, dict[str, Any]]
    received: datetime


@dataclass
class EventKind(Generic[EventT]):
    """One kind of event, as its app declares it.

    `plain_lines` returns the COPY text lines of a plain batch (dicts of the values as sent, written as
    they are), or None to hand the batch to the checked tier; `full_lines` those of validated events
    (`ingest.store.copy_line` escapes them). `known_keys` is the table whose unique index on
    (organization_id, idempotency_key) refuses a known key: on a duplicate, only the rows whose key
    is not in it are inserted.
    """

    table: str
    columns: tuple[str, ...]
    plain: type  # a TypedDict, validated strictly (ingest.validate.PlainBatchValidator)
    full: type[EventT]
    names: dict[str, Names]
    plain_lines: Callable[[Rows[dict[str, Any]]], list[str] | None]
    full_lines: Callable[[Rows[EventT]], list[str]]
    known_keys: str
    exact_number: str | None = None  # a field whose JSON numbers are read from their text
    plain_validator: PlainBatchValidator = field(init=False)
    full_validator: BatchValidator[EventT] = field(init=False)

    def __post_init__(self) -> None:
        self.plain_validator = PlainBatchValidator(self.plain, exact_number=self.exact_number)
        self.full_validator = BatchValidator(self.full)


@gc_paused
def ingest(kind: EventKind[EventT], *, organization_id: int, body: bytes) -> BatchResult:
    """Validate a batch and store its new events; see ingest.store.store_new_rows for the dedup guarantee.

    A batch in the plain spelling, naming known names, goes to COPY as sent (the fast tier);
    anything else, or a value PostgreSQL refuses, is validated event by event.
    """
    events = kind.plain_validator.validate(body)
    if events is not None:
        result = _ingest_plain(kind, organization_id, events)
        if result is not None:
            return result
    return _ingest_checked(kind, organization_id, body)


def _ingest_plain(kind: EventKind[EventT], organization_id: int, events: list[dict[str, Any]]) -> BatchResult | None:
    """Store a batch that passed the plain tier; None to hand it to the checked tier instead.

    Each check is one pass in C (map, set, max) over the batch: this runs for every event sent.
    """
    if not events:
        return BatchResult()
    now = timezone.now()
    ids = {}
    for name, names in kind.names.items():
        wanted = set(map(itemgetter(name), events))
        ids[name] = found = names.resolve(organization_id, wanted)
        if len(found) < len(wanted):
            return None  # the checked tier names each unknown one
    if any_later_than(list(map(_timestamp, events)), now + timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)):
        return None  # the checked tier names each future event
    kept, repeats = keep_first_of_each_key(events, key=_key)
    lines = kind.plain_lines(_rows(organization_id, kept, _key, ids, now))
    if lines is None:
        return None
    try:
        stored = _store(kind, lines)
    except psycopg.errors.DataError:
        return None  # a value PostgreSQL refuses (2 February 30): the checked tier names the event
    return BatchResult(accepted=stored, duplicates=repeats + len(kept) - stored)


_timestamp, _key = itemgetter("timestamp"), itemgetter("idempotency_key")


def _ingest_checked(kind: EventKind[EventT], organization_id: int, body: bytes) -> BatchResult:
    """Validate each event against the full model and store the valid ones; errors name index and field."""
    batch = check_batch(kind.full_validator, body, resolvers={
        name: (names.label, partial(names.resolve, organization_id)) for name, names in kind.names.items()
    })
    lines = kind.full_lines(_rows(organization_id, batch.events, _attribute_key, batch.ids, batch.now))
    return batch.result(_store(kind, lines))


_attribute_key = attrgetter("idempotency_key")


def _rows(organization_id: int, events: list[E], key: Callable[[E], str], ids: dict[str, dict[str, Any]],
          received: datetime) -> Rows[E]:
    # Keys reach the unique index in one order, Python's (code points, as COLLATE "C" compares UTF-8), so
    # that concurrent batches sharing keys wait for each other instead of deadlocking: every batch of
    # either tier and kind is sorted here (~0.1 ms per 1,000 random keys, ~0.03 ms when already in order).
    events.sort(key=key)
    return Rows(organization_id=organization_id, events=events, ids=ids, received=received)


def _store(kind: EventKind[EventT], lines: list[str]) -> int:
    """Store rows given as COPY text lines (in key order); returns how many were new."""
    if not lines:
        return 0
    text = "".join(lines)
    return store_new_rows(fast=lambda: copy_text(kind.table, kind.columns, text),
                          slow=lambda: _store_new_only(kind, text), count=len(lines))


def _store_new_only(kind: EventKind[EventT], text: str) -> int:
    staging, columns = f"{kind.table}_staging", ", ".join(kind.columns)
    copy_text_staged(staging, kind.table, kind.columns, text)
    # The staged rows are inserted in the order _rows sorted them (COLLATE "C" is that order).
    return insert_new_rows(
        f"INSERT INTO {kind.table} ({columns}) SELECT {columns} FROM {staging} s WHERE NOT EXISTS ("
        f"SELECT FROM {kind.known_keys} k WHERE k.organization_id = s.organization_id "
        f'AND k.idempotency_key = s.idempotency_key) ORDER BY s.idempotency_key COLLATE "C"'
    )
