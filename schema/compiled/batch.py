"""List-level resolvers: one call for a field of every object at a level.

A field's ordinary resolver answers for one object. On a list of N objects the
compiled executor would start N coroutines, each issuing one DataLoader load
and waiting on one future: in CPython that per-object machinery costs more
than the field's own work. A field may therefore also declare a *batch
resolver* — the same field for a whole list of parents at once::

    async def prices(assets: Sequence[Asset], info: Info, quote: str = "USD") -> list[...]:
        ...

    @strawberry.field
    @batched(prices)
    async def price(self, info: Info, quote: str = "USD") -> Price | None: ...

The compiled executor (:mod:`schema.compiled.run`) collects every object of a
level whose plan selects the field, calls the batch resolver once with their
sources, the field's arguments and ``info`` (the field's, at the first
object's path — a batch resolver must not depend on ``info.path``), and
completes each object's value from the returned list. graphql-core's executor
(the reference path, and every fallback) keeps calling the per-object
resolver, so both must compute the same thing: the batch resolver is, by
contract, the per-object resolver applied to each source, in order. The
differential test (``tests/compiled/test_differential.py``) checks it over
generated operations.

The returned sequence has one item per source. An ``Exception`` item is that
object's field error; an exception raised by the batch resolver is the field
error of every object in the batch (as when each per-object call raises it).

A resolver that only reads an attribute path of its object (a view over a
stored record: ``return self.record.kind``) may say so with :func:`reads`; the
compiled executor then reads the path directly instead of calling it, while
graphql-core keeps calling the resolver. The declaration and the body must read
the same thing; the executors-agree test (``tests/graph``) compares both on the
real schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute a per-object resolver carries its batch resolver under
BATCH_ATTR = "__cryptoql_batch__"
#: the attributes a plain-read resolver carries its attribute path and converter under
READS_ATTR = "__cryptoql_reads__"
VIA_ATTR = "__cryptoql_reads_via__"


#: the attribute a per-object resolver carries its bare batch resolver under
BARE_ATTR = "__cryptoql_batch_bare__"


def batched(
    many: Callable[..., Any], *, bare: Callable[..., Any] | None = None, view: str = "record"
) -> Callable[[F], F]:
    """Declare ``many`` the batch form of the decorated per-object resolver.

    ``bare``, when given, is ``many`` without the views: the same call returning, item
    for item, each view ``v`` replaced by ``getattr(v, view)`` (the stored record it is
    a view over). When every field a document selects of the view type is a declared
    read under ``view`` (:func:`reads`), the compiled executor calls ``bare`` and reads
    the records directly: no view object is built per item.
    """

    def mark(func: F) -> F:
        setattr(func, BATCH_ATTR, many)
        if bare is not None:
            setattr(func, BARE_ATTR, (bare, view))
        return func

    return mark


def batch_of(func: Any) -> Callable[..., Any] | None:
    """The batch resolver declared for a per-object resolver function, if any."""
    found = getattr(func, BATCH_ATTR, None)
    return found if callable(found) else None


def bare_of(func: Any) -> tuple[Callable[..., Any], str] | None:
    """The bare batch resolver declared for a per-object resolver and the attribute its
    views hold their record under, if any."""
    found = getattr(func, BARE_ATTR, None)
    return found if isinstance(found, tuple) else None


def reads(path: str, via: Callable[[Any], Any] | None = None) -> Callable[[F], F]:
    """Declare the decorated resolver (``self`` only) a read of ``self.<path>``,
    e.g. ``@reads("record.kind")`` on ``def kind(self) -> str: return self.record.kind``;
    with ``via``, of ``via(self.<path>)`` (a plain synchronous conversion, e.g. a stored
    string to an enum member). The conversion must be pure — the same input gives the
    same output — as generated code remembers its serialised result per stored string."""
    if not path or not all(part.isidentifier() for part in path.split(".")):
        raise ValueError(f"not an attribute path: {path!r}")

    def mark(func: F) -> F:
        setattr(func, READS_ATTR, path)
        setattr(func, VIA_ATTR, via)
        return func

    return mark


def reads_of(func: Any) -> str | None:
    """The attribute path a resolver function is declared to read, if any."""
    found = getattr(func, READS_ATTR, None)
    return found if isinstance(found, str) else None


def reads_via(func: Any) -> Callable[[Any], Any] | None:
    """The conversion a declared read applies to the value at its path, if any."""
    found = getattr(func, VIA_ATTR, None)
    return found if callable(found) else None
