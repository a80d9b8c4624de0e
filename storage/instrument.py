"""Count SQL statements per unit of work (a request, a test, a bench run).

Mutable cells are kept in a context variable; tasks spawned inside that
context (loader batches) inherit them, so a count covers the whole request.
Counters nest: a test counting around a request and the server's per-request
counter both see every statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementCount:
    count: int = 0


_current: ContextVar[tuple[StatementCount, ...]] = ContextVar("cryptoql_sql_count", default=())
_INSTALLED = "_cryptoql_counter_installed"


def install_statement_counter(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine
    if getattr(sync_engine, _INSTALLED, False):
        return

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _count(*_args: Any, **_kw: Any) -> None:
        for cell in _current.get():
            cell.count += 1

    setattr(sync_engine, _INSTALLED, True)


@contextmanager
def counting_statements() -> Iterator[StatementCount]:
    cell = StatementCount()
    token = _current.set((*_current.get(), cell))
    try:
        yield cell
    finally:
        _current.reset(token)


def begin_count() -> StatementCount:
    """Start counting in the current context (for middleware that cannot use ``with``)."""
    cell = StatementCount()
    _current.set((*_current.get(), cell))
    return cell
