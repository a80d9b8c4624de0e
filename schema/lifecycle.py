"""Extension hooks without per-request decoration or exit stacks.

Strawberry builds a new extension instance per request (that is the contract:
per-request state lives on the instance) and, for every lifecycle stage, asks
each instance for its hook: ``inspect`` decides whether it is a generator, an
async generator or a plain callable, ``contextlib.contextmanager`` wraps a
freshly bound method, and an ``AsyncExitStack`` enters and leaves the wrapped
hooks. With eight extensions and four stages that is thirty-two lookups,
fourteen decorated wrappers and four exit stacks per request, a measurable
share of a small query's cost (docs/performance.md).

:class:`LeanExtensionsRunner` enters the same hooks in the same order with the
same exit semantics, but resolves a stage's hooks once per tuple of extension
classes (:func:`plan_of`), and drives the generator hooks itself: ``next`` to
enter, ``next`` again to leave, in reverse order. Leaving a stage follows
``contextlib`` line for line (``_GeneratorContextManager.__exit__`` per hook
inside ``ExitStack.__exit__``, Python 3.11; the exception is thrown in as an
instance, as contextlib does from 3.12, which is the same thing when the
traceback passed to ``__exit__`` is the exception's own, as a ``with``
statement passes it): the exception raised in the stage is thrown into each
generator, innermost first; a generator that swallows it
hides it from the outer ones; an exception raised while leaving replaces the
one the outer hooks see, its ``__context__`` set as nested ``with`` statements
would set it; "generator didn't yield" / "didn't stop" as ``contextmanager``
says them. Like strawberry's context managers, leaving a stage never
suppresses the stage's own exception: a swallowing hook only hides it from
the hooks outside it. Plain and async callables run on entry and have nothing
to do on exit (strawberry's wrapper generator for them re-raises whatever is
thrown in, which changes nothing). ``on_stream_result`` keeps strawberry's
runner (it is rare and takes an argument).
"""

from __future__ import annotations

import inspect
import sys
from asyncio import iscoroutinefunction
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any, NamedTuple

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

_GEN, _ASYNC_GEN, _CALL, _ASYNC_CALL = range(4)

#: (extension class, hook name) -> (hook function, kind), or None when not overridden
_HOOKS: dict[tuple[type, str], tuple[Callable[..., Any], int] | None] = {}


def hook_of(cls: type, name: str) -> tuple[Callable[..., Any], int] | None:
    """The hook ``name`` of extension class ``cls`` and its kind (None: the default)."""
    key = (cls, name)
    try:
        return _HOOKS[key]
    except KeyError:
        pass
    fn = getattr(cls, name)
    found: tuple[Callable[..., Any], int] | None
    if fn is getattr(SchemaExtension, name):
        found = None
    elif inspect.isgeneratorfunction(fn):
        found = (fn, _GEN)
    elif inspect.isasyncgenfunction(fn):
        found = (fn, _ASYNC_GEN)
    elif iscoroutinefunction(fn):
        found = (fn, _ASYNC_CALL)
    elif callable(fn):
        found = (fn, _CALL)
    else:
        raise ValueError(f"Hook {name} on {cls.__name__} must be callable, received {fn!r}")
    _HOOKS[key] = found
    return found


class Plan(NamedTuple):
    """One stage's hooks for one tuple of extension classes."""

    #: (position in the extension list, hook function, kind), in extension order
    steps: tuple[tuple[int, Callable[..., Any], int], ...]
    #: per generator hook, in entry order: True for an async generator
    gen_is_async: tuple[bool, ...]


#: (stage hook name, *extension classes) -> the stage's plan
_PLANS: dict[tuple[Any, ...], Plan] = {}


def plan_of(extensions: list[SchemaExtension], name: str) -> Plan:
    """The hooks stage ``name`` enters for these extensions (resolved once per class tuple)."""
    key = (name, *map(type, extensions))
    try:
        return _PLANS[key]
    except KeyError:
        pass
    steps: list[tuple[int, Callable[..., Any], int]] = []
    for index, extension in enumerate(extensions):
        hook = hook_of(type(extension), name)
        if hook is not None:
            fn, kind = hook
            steps.append((index, fn, kind))
    plan = _PLANS[key] = Plan(
        tuple(steps),
        tuple(kind == _ASYNC_GEN for _, _, kind in steps if kind in (_GEN, _ASYNC_GEN)),
    )
    return plan


def _fix_context(
    new_exc: BaseException, old_exc: BaseException | None, frame_exc: BaseException | None
) -> None:
    """``ExitStack``'s ``_fix_exception_context``: chain ``new_exc`` to ``old_exc`` as a
    nested ``with`` would (the interpreter chained it to the stage's caller's exception)."""
    while True:
        exc_context = new_exc.__context__
        if exc_context is None or exc_context is old_exc:
            return  # already right (see CPython issue 20317)
        if exc_context is frame_exc:
            break
        new_exc = exc_context
    new_exc.__context__ = old_exc


def _reraise(exc: BaseException) -> None:
    """Raise ``exc`` keeping the ``__context__`` set up for it (``ExitStack``'s last step)."""
    fixed_ctx = exc.__context__
    try:
        raise exc
    except BaseException:
        exc.__context__ = fixed_ctx
        raise


def _throw(
    gen: Generator[Any, None, Any],
    typ: type[BaseException],
    value: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """``_GeneratorContextManager.__exit__`` with an exception: True to suppress it."""
    if value is None:
        # contextlib: "need to force instantiation so we can reliably tell if we get
        # the same exception back"
        value = typ()
    try:
        gen.throw(value)
    except StopIteration as exc:
        # suppress a StopIteration unless it is the one thrown in
        return exc is not value
    except RuntimeError as exc:
        if exc is value:  # don't re-raise the exception thrown in (CPython issue 27122)
            exc.__traceback__ = tb
            return False
        if isinstance(value, StopIteration) and exc.__cause__ is value:
            value.__traceback__ = tb  # PEP 479 wrapped the StopIteration thrown in
            return False
        raise
    except BaseException as exc:
        if exc is not value:
            raise
        exc.__traceback__ = tb
        return False
    try:
        raise RuntimeError("generator didn't stop after throw()")
    finally:
        gen.close()


async def _athrow(
    gen: AsyncGenerator[Any, None],
    typ: type[BaseException],
    value: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    """``_AsyncGeneratorContextManager.__aexit__`` with an exception: True to suppress it."""
    if value is None:
        value = typ()
    try:
        await gen.athrow(value)
    except StopAsyncIteration as exc:
        return exc is not value
    except RuntimeError as exc:
        if exc is value:
            exc.__traceback__ = tb
            return False
        if isinstance(value, (StopIteration, StopAsyncIteration)) and exc.__cause__ is value:
            value.__traceback__ = tb
            return False
        raise
    except BaseException as exc:
        if exc is not value:
            raise
        exc.__traceback__ = tb
        return False
    try:
        raise RuntimeError("generator didn't stop after athrow()")
    finally:
        await gen.aclose()


#: what ``next`` returns for a generator that has finished
_DONE = object()


class _Stage:
    """One stage's hooks of one request, entered and left as strawberry does it."""

    __slots__ = ("extensions", "gens", "name", "plan")

    def __init__(self, extensions: list[SchemaExtension], name: str) -> None:
        self.extensions = extensions
        self.name = name
        self.plan = plan_of(extensions, name)

    async def __aenter__(self) -> None:
        extensions = self.extensions
        gens: list[Any] = []
        self.gens = gens
        for index, fn, kind in self.plan.steps:
            if kind == _GEN:
                gen = fn(extensions[index])
                try:
                    next(gen)
                except StopIteration:
                    raise RuntimeError("generator didn't yield") from None
                gens.append(gen)
            elif kind == _ASYNC_GEN:
                agen = fn(extensions[index])
                try:
                    await agen.__anext__()
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                gens.append(agen)
            elif kind == _ASYNC_CALL:
                await fn(extensions[index])
            else:
                fn(extensions[index])

    async def __aexit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # AsyncExitStack.__aexit__ over the entered generators, the exit of each
        # (_GeneratorContextManager.__exit__) inline for the common case
        gens = self.gens
        if not gens:
            return
        gen_is_async = self.plan.gen_is_async
        frame_exc = sys.exc_info()[1]
        pending = False
        i = len(gens)
        while i:
            i -= 1
            gen = gens[i]
            try:
                if gen_is_async[i]:
                    if typ is None:
                        try:
                            await gen.__anext__()
                        except StopAsyncIteration:
                            continue
                        try:
                            raise RuntimeError("generator didn't stop")
                        finally:
                            await gen.aclose()
                    elif await _athrow(gen, typ, value, tb):
                        pending = False
                        typ = value = tb = None
                elif typ is None:
                    if next(gen, _DONE) is _DONE:  # finished (StopIteration, not raised)
                        continue
                    try:
                        raise RuntimeError("generator didn't stop")
                    finally:
                        gen.close()
                elif _throw(gen, typ, value, tb):
                    pending = False
                    typ = value = tb = None
            except BaseException as exc:
                _fix_context(exc, value, frame_exc)
                pending = True
                typ, value, tb = type(exc), exc, exc.__traceback__
        if pending and value is not None:  # (pending: value is what an exit raised)
            _reraise(value)

    def __enter__(self) -> None:
        extensions = self.extensions
        gens: list[Any] = []
        self.gens = gens
        for index, fn, kind in self.plan.steps:
            if kind == _GEN:
                gen = fn(extensions[index])
                try:
                    next(gen)
                except StopIteration:
                    raise RuntimeError("generator didn't yield") from None
                gens.append(gen)
            elif kind == _CALL:
                fn(extensions[index])
            else:
                raise RuntimeError(
                    f"SchemaExtension hook {extensions[index]}.{self.name} "
                    "failed to complete synchronously."
                )

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # ExitStack.__exit__ over the entered generators (all synchronous here)
        gens = self.gens
        if not gens:
            return
        frame_exc = sys.exc_info()[1]
        pending = False
        i = len(gens)
        while i:
            i -= 1
            gen = gens[i]
            try:
                if typ is None:
                    if next(gen, _DONE) is _DONE:
                        continue
                    try:
                        raise RuntimeError("generator didn't stop")
                    finally:
                        gen.close()
                elif _throw(gen, typ, value, tb):
                    pending = False
                    typ = value = tb = None
            except BaseException as exc:
                _fix_context(exc, value, frame_exc)
                pending = True
                typ, value, tb = type(exc), exc, exc.__traceback__
        if pending and value is not None:  # (pending: value is what an exit raised)
            _reraise(value)


class LeanExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner with :class:`_Stage` for operation, parsing, validation and
    execution."""

    def operation(self) -> Any:
        return _Stage(self.extensions, "on_operation")

    def validation(self) -> Any:
        return _Stage(self.extensions, "on_validate")

    def parsing(self) -> Any:
        return _Stage(self.extensions, "on_parse")

    def executing(self) -> Any:
        return _Stage(self.extensions, "on_execute")
