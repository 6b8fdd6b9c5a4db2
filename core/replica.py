"""Reads that may be served by a read replica: reports, never billing.

A report selector runs under `replica_reads()` (or is decorated with `report_reader`); while it runs,
the database router (config/routers.py) sends the ORM's reads to the `replica` alias when one is
configured (REPLICA_DATABASE_URL), and raw SQL asks `reader_alias()` for its connection. Without a
replica, or outside a report, everything reads the primary. A replica lags its primary by up to a few
seconds: billing, which must see what it just wrote, never reads through it.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

from django.conf import settings

REPLICA = "replica"
_reports: ContextVar[bool] = ContextVar("replica_reads", default=False)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def replica_reads() -> Iterator[None]:
    token = _reports.set(True)
    try:
        yield
    finally:
        _reports.reset(token)


def report_reader(function: Callable[P, R]) -> Callable[P, R]:
    """Run a report selector with its reads sent to the replica, when there is one."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with replica_reads():
            return function(*args, **kwargs)

    return wrapper


def reader_alias() -> str:
    """The database alias reads should use here: the replica inside a report, if configured."""
    return REPLICA if _reports.get() and REPLICA in settings.DATABASES else "default"
