"""The current task, kept in a ContextVar.

A ContextVar (not a thread-local or a global) is what makes ``with task(...)`` correct
for both threads and asyncio: each thread starts with an empty context and each asyncio
task works on a copy of its creator's, so concurrent tasks never see each other's scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskScope:
    """What ``task()`` stamps on events recorded inside it."""

    task_id: str
    customer: str | None = None


_current: ContextVar[TaskScope | None] = ContextVar("tally_task", default=None)


def current_task() -> TaskScope | None:
    """The innermost active task scope in this context, if any."""
    return _current.get()


@contextmanager
def task(task_id: str, *, customer: str | None = None) -> Iterator[TaskScope]:
    """Stamp ``task_id`` (and a default ``customer``) on every event recorded inside.

    Nested scopes inherit the outer customer unless they name their own.
    """
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValueError(f"task_id must be a non-empty string, got {task_id!r}")
    outer = _current.get()
    if customer is None and outer is not None:
        customer = outer.customer
    scope = TaskScope(task_id=task_id, customer=customer)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
