"""Cheap construction of view objects: many per request, one call each.

A strawberry type is a keyword-only dataclass. Calling it parses keywords and
runs the generated ``__init__``, which only assigns the fields; for a view over
a stored record (a ``Signal``, a ``Price``, an ``Asset`` and its edge) that call
is most of what the view costs, and a 100-asset dashboard builds six hundred
of them per request. :func:`constructor` returns a positional function that
builds the same object — a bare instance with the same attributes set — in
about half the time (measured: 230 → 100 ns for a two-field view).

It only accepts types for which that is the same thing: every field the
``__init__`` assigns has no default, and there is no ``__post_init__``. The
generated text names only the type's own field names (identifiers checked), so
nothing from a request reaches ``compile``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def constructor(cls: type[T]) -> Callable[..., T]:
    """``cls(**dict(zip(fields, args)))`` as a positional function, for the fields the
    dataclass ``__init__`` takes, in declaration order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    if cls.__new__ is not object.__new__:
        raise TypeError(f"{cls.__name__} has its own __new__: build it with its __init__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__: build it with its __init__")
    names = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} has a default: build it with its __init__")
        if not f.name.isidentifier():
            raise TypeError(f"{cls.__name__}.{f.name} is not an identifier")
        names.append(f.name)
    params = ", ".join(names)
    lines = [f"def make({params}):", "    o = _new(_cls)"]
    lines += [f"    o.{name} = {name}" for name in names]
    lines.append("    return o")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    exec(compile("\n".join(lines), f"<view {cls.__name__}>", "exec"), namespace)  # noqa: S102
    make: Callable[..., T] = namespace["make"]
    make.__doc__ = f"{cls.__name__}({params}), without keyword parsing (schema.view)"
    return make
