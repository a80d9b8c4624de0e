"""Extension hooks without per-request decoration.

Strawberry builds a new extension instance per request (that is the contract:
per-request state lives on the instance) and, for every lifecycle stage, asks
each instance for its hook: ``inspect`` decides whether it is a generator, an
async generator or a plain callable, and ``contextlib.contextmanager`` wraps
a freshly bound method — ``functools.wraps`` included — before the hook is
entered. With eight extensions and four stages that is thirty-two lookups and
fourteen decorated wrappers per request, a measurable share of a small
query's cost (docs/performance.md).

:class:`LeanExtensionsRunner` enters the same hooks in the same order with the
same exit semantics (an exit stack of one context manager per hook, as
strawberry's ``ExtensionContextManagerBase``), but decides each extension
class's hook kind once, and builds the context managers directly instead of
decorating a bound method per request. ``on_stream_result`` keeps strawberry's
runner (it is rare and takes an argument).
"""

from __future__ import annotations

import contextlib
import inspect
from asyncio import iscoroutinefunction
from collections.abc import Callable
from types import TracebackType
from typing import Any

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


class _Stage:
    """One stage's hooks of one request, entered like strawberry enters them."""

    __slots__ = ("extensions", "name", "stack", "sync_stack")

    def __init__(self, extensions: list[SchemaExtension], name: str) -> None:
        self.extensions = extensions
        self.name = name

    async def __aenter__(self) -> None:
        stack = self.stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        for ext in self.extensions:
            hook = hook_of(type(ext), self.name)
            if hook is None:
                continue
            fn, kind = hook
            if kind == _GEN:
                # contextlib's own generator context manager, built without decorating
                # a bound method per request (the private class is what the decorator
                # returns; its semantics are contextmanager's)
                stack.enter_context(contextlib._GeneratorContextManager(fn, (ext,), {}))
            elif kind == _ASYNC_GEN:
                await stack.enter_async_context(
                    contextlib._AsyncGeneratorContextManager(fn, (ext,), {})
                )
            elif kind == _ASYNC_CALL:
                await fn(ext)
            else:
                fn(ext)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.stack.__aexit__(exc_type, exc_val, exc_tb)

    def __enter__(self) -> None:
        stack = self.sync_stack = contextlib.ExitStack()
        stack.__enter__()
        for ext in self.extensions:
            hook = hook_of(type(ext), self.name)
            if hook is None:
                continue
            fn, kind = hook
            if kind in (_ASYNC_GEN, _ASYNC_CALL):
                raise RuntimeError(
                    f"SchemaExtension hook {ext}.{self.name} failed to complete synchronously."
                )
            if kind == _GEN:
                stack.enter_context(contextlib._GeneratorContextManager(fn, (ext,), {}))
            else:
                fn(ext)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.sync_stack.__exit__(exc_type, exc_val, exc_tb)


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
