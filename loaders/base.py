"""Shared base for loaders: each batch gets its own short session.

aiodataloader runs every batch as a task of its own, which nothing awaits but
the futures of the keys it loads. When the resolvers waiting on those futures
are cancelled (graphql-core cancels a field's siblings once a non-null error
propagates), the batch keeps running after the operation has finished, holding
a pooled connection. Loaders of one request therefore share an :data:`InFlight`
set of their running batch tasks, which the request settles before it ends
(:meth:`loaders.registry.Loaders.settle`): no query outlives the request that
issued it, and the engine is never disposed under a connection still in use.
"""

from __future__ import annotations

import asyncio
import functools
from asyncio import get_event_loop
from collections import deque
from collections.abc import Callable, Collection, Iterable, MutableMapping, Sequence
from contextvars import ContextVar
from itertools import repeat, starmap
from typing import Any, TypeVar

from aiodataloader import DataLoader

from storage.engine import SessionFactory

K = TypeVar("K")
V = TypeVar("V")


class RequestFinished(Exception):
    """A batch that starts after its request was cancelled does not touch the database."""


class InFlight:
    """The batch tasks of one request's loaders that are still running, and whether
    the request is over (cancelled): then a batch that had been scheduled but not
    yet started fails with :class:`RequestFinished` instead of opening a session."""

    __slots__ = ("closed", "shield", "tasks")

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False
        #: loads return shielded futures (see :meth:`SessionLoader.load`)
        self.shield = False


class SessionLoader(DataLoader[K, V]):
    """A DataLoader holding the session factory its batch function opens sessions from."""

    max_batch_size_default = 1000

    def __init__(
        self, sessions: SessionFactory, *, inflight: InFlight | None = None, **kwargs: Any
    ) -> None:
        cls = type(self)
        checked = _checked.get(cls)
        if kwargs or checked is None or checked[0] is not getattr(cls, "batch_load_fn", None):
            plain = not kwargs
            kwargs.setdefault("max_batch_size", self.max_batch_size_default)
            #: keys are their own cache keys (no get_cache_key given): load_all skips the call
            self._identity_keys = "get_cache_key" not in kwargs and not hasattr(
                cls, "get_cache_key"
            )
            super().__init__(**kwargs)
            if plain:  # the per-request case: later ones take the path below
                _checked[cls] = (getattr(cls, "batch_load_fn", None), self._identity_keys)
        else:
            # What DataLoader.__init__(max_batch_size=max_batch_size_default) sets, without
            # checking the class's batch_load_fn again (a loader per entity per request).
            self.loop = get_event_loop()
            self.max_batch_size = self.max_batch_size_default
            self._identity_keys = identity_keys = checked[1]
            if identity_keys:
                self.get_cache_key = _same_key
            self._cache = {}
            self._queue = []
        self.sessions = sessions
        self.inflight: InFlight = inflight if inflight is not None else InFlight()

    def load(self, key: K) -> asyncio.Future[V]:
        """The key's value. Every caller of a key shares one cached future; when the
        request runs on graphql-core's executor, which cancels a failed field's
        siblings, the future is shielded, else a cancelled caller would cancel it for
        every other field waiting on the same key (the compiled path cancels nothing
        and skips the extra future)."""
        future = super().load(key)
        return asyncio.shield(future) if self.inflight.shield else future

    async def load_all(self, keys: Sequence[K]) -> list[V | Exception]:
        """The values of ``keys``, in order, with one batch per ``max_batch_size``
        missing keys and no wait per key (a list-level resolver's load).

        Keys cached or in flight (by :meth:`load` or another call) are shared. The
        rest get a future in the cache at once — a concurrent load of the same key
        waits for this batch instead of querying again — and one batch task (like
        :meth:`load`'s, so :class:`InFlight` settles it with the request) fills them.
        A key's failure (the batch raised, or returned an ``Exception`` for it) is
        returned in its place, as awaiting :meth:`load`'s future would raise it.
        """
        # Without the loader's cache, a call still loads each distinct key once.
        cache: MutableMapping[Any, asyncio.Future[V]] = self._cache if self.cache else {}
        cache_keys: Sequence[Any] = (
            keys if self._identity_keys else list(map(self.get_cache_key, keys))
        )
        loop = asyncio.get_running_loop()
        create_future = loop.create_future
        count = len(cache_keys)
        # per shared key (cached, in flight, or a repeat in this call): how many fresh
        # keys precede it, and its future
        shared: list[tuple[int, asyncio.Future[V]]] = []
        # The common case, every key distinct and new to the cache, without a
        # bytecode per key: a future each, all cached at once.
        fresh_keys: list[K] | None = None
        futures: list[asyncio.Future[V]] = []
        if not cache or cache.keys().isdisjoint(cache_keys):
            futures = list(starmap(create_future, repeat((), count)))
            new = dict(zip(cache_keys, futures, strict=True))
            if len(new) == count:  # no key repeated
                cache.update(new)
                fresh_keys = list(keys)
        if fresh_keys is None:  # key by key
            fresh_keys = []
            futures = []
            add_key = fresh_keys.append
            add_future = futures.append
            add_shared = shared.append
            cache_get = cache.get
            for key, cache_key in zip(keys, cache_keys, strict=True):
                cached = cache_get(cache_key)
                if cached is None:
                    cache[cache_key] = future = create_future()
                    add_key(key)
                    add_future(future)
                else:
                    add_shared((len(fresh_keys), cached))
        outcomes: list[V | Exception | None] = []
        if fresh_keys:
            tasks = self.inflight.tasks
            task = loop.create_task(self._fill(fresh_keys, futures))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await wait_all((task,))  # not cancelled with this caller: others share it
            outcomes, cancelled = task.result()  # a cancelled batch raises CancelledError
            if cancelled:  # a key's future was cancelled, as awaiting it would raise
                raise asyncio.CancelledError
        if not shared:  # every key fresh: the batch's outcomes (a list of this call's own)
            return outcomes  # type: ignore[return-value] # None only if cancelled
        out: list[V | Exception] = []
        append = out.append
        placed = 0  # fresh outcomes in out
        for before, future in shared:
            if before > placed:
                out += outcomes[placed:before]  # type: ignore[arg-type]
                placed = before
            if not future.done():
                await wait_all((future,))  # its outcome is read below
            if future.cancelled():
                raise asyncio.CancelledError
            failure = future.exception()  # _outcome's, inline
            append(future.result() if failure is None else failure)  # type: ignore[arg-type]
        out += outcomes[placed:]  # type: ignore[arg-type]
        return out

    async def _fill(
        self, keys: list[K], futures: list[asyncio.Future[V]]
    ) -> tuple[list[V | Exception | None], bool]:
        """Run the batch function over ``keys`` and settle their ``futures`` (all made
        by one ``loop.create_future``); return their outcomes in order (a value, or the
        exception the future holds) and whether any of them had been cancelled (its
        outcome is then None)."""
        outcomes: list[V | Exception | None] = []
        cancelled = False
        count = len(keys)
        size = self.max_batch_size or count
        future_type = type(futures[0])
        done = future_type.done
        set_result = future_type.set_result
        for start in range(0, count, size):
            if size >= count:  # one batch: these lists are this call's own
                batch, part = keys, futures
            else:
                batch, part = keys[start : start + size], futures[start : start + size]
            values: list[Any]
            try:
                values = list(await self.batch_load_fn(batch))
                if len(values) != len(part):
                    raise TypeError(
                        f"{type(self).__name__}: the batch function returned {len(values)} "
                        f"values for {len(part)} keys"
                    )
            except Exception as exc:
                add = outcomes.append
                for future in part:
                    if not future.done():
                        future.set_exception(exc)
                    cancelled |= future.cancelled()
                    add(_outcome(future))  # which retrieves exc: nothing logs it unawaited
                continue
            except BaseException:
                for future in futures[start:]:
                    future.cancel()
                raise
            if any(map(done, part)) or any(map(isinstance, values, repeat(Exception))):
                for index, future in enumerate(part):
                    value = values[index]
                    if future.done():  # settled elsewhere (cancelled): report what it holds
                        cancelled |= future.cancelled()
                        values[index] = _outcome(future)
                    elif isinstance(value, Exception):
                        future.set_exception(value)
                    else:
                        future.set_result(value)
            else:  # the common case: every key gets its value
                _drain(map(set_result, part, values))
            if start:
                outcomes += values
            else:
                outcomes = values
        return outcomes, cancelled

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "batch_load_fn" in cls.__dict__:
            cls.batch_load_fn = _observed(cls.__dict__["batch_load_fn"], cls.__name__)  # type: ignore[misc]


#: per loader class built without options: the batch_load_fn its first construction
#: checked (aiodataloader's constructor asserts a coroutine function) and whether its
#: keys are their own cache keys
_checked: dict[type[SessionLoader[Any, Any]], tuple[Any, bool]] = {}


def _same_key(key: Any) -> Any:
    """The cache key of a loader without ``get_cache_key`` (aiodataloader's ``lambda x: x``)."""
    return key


async def wait_all(futures: Collection[asyncio.Future[Any]]) -> None:
    """``await asyncio.wait(futures)`` for futures of the running loop, without its
    bookkeeping (half its cost; loads and the compiled executor wait several times per
    request): returns once every one is done; cancelling the caller leaves them
    running, as ``asyncio.wait`` does. Their outcomes are read from the futures."""
    waiting = [future for future in futures if not future.done()]
    if not waiting:
        return
    remaining = len(waiting)
    waiter = asyncio.get_running_loop().create_future()

    def on_done(_future: asyncio.Future[Any]) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0 and not waiter.done():
            waiter.set_result(None)

    for future in waiting:
        future.add_done_callback(on_done)
    try:
        await waiter
    finally:
        for future in waiting:
            future.remove_done_callback(on_done)


#: consumes an iterator (of calls made for their effect) without a bytecode per item
_drain: Callable[[Iterable[Any]], None] = deque(maxlen=0).extend


def _outcome(future: asyncio.Future[Any]) -> Any:
    """A settled future's value or exception (None for a cancelled one)."""
    if future.cancelled():
        return None
    failure = future.exception()
    return future.result() if failure is None else failure


#: Called with (loader class name, batch size) for every batch. The server's
#: metrics set it per request (a context variable, so apps and tests in one
#: process never share it); unset, a batch pays one context-variable lookup.
BatchObserver = Callable[[str, int], None]
batch_observer: ContextVar[BatchObserver | None] = ContextVar(
    "cryptoql_loader_batch_observer", default=None
)


def _observed(fn: Any, name: str) -> Any:
    @functools.wraps(fn)
    async def batch_load_fn(self: Any, keys: list[Any]) -> Any:
        observe = batch_observer.get()
        if observe is not None:
            observe(name, len(keys))
        inflight: InFlight = self.inflight
        if inflight.closed:
            raise RequestFinished(f"{name}: the request was cancelled before this batch ran")
        task = asyncio.current_task()
        if task is None:
            return await fn(self, keys)
        inflight.tasks.add(task)
        try:
            return await fn(self, keys)
        finally:
            inflight.tasks.discard(task)

    return batch_load_fn
