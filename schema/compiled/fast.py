"""Straight-line completion for pure selection sets, generated once per plan.

Most objects in a response are plain values: a price source, a signal, a
candle — every selected field is an attribute read (or a synchronous resolver
without ``info``) completed as a leaf, a nested pure object or a list of them.
For such an :class:`~schema.compiled.plan.ObjectPlan` this module generates a
Python function (source text compiled with ``compile``) that builds the
result dict in one expression per field, with the leaf checks inlined::

    def complete(src):
        v = src.kind
        if v is None: raise _SLOW
        r0 = v if type(v) is str else s0(v)
        ...
        return {"kind": r0, ...}

The generated function is an optimistic fast path: it raises on anything
unusual — a null for a non-null field, a resolver error, a serialiser error, an
awaitable, a list that is not a list. The caller then discards its partial
work and completes the object on the generic path (:mod:`schema.compiled.run`),
which produces the specification's errors, paths and null propagation. Results
are therefore identical either way; the differential test checks it. On that
fallback the object's attribute reads and synchronous resolvers run a second
time, so they must be pure (ours are: views over immutable records).

The generated text comes only from the plan (identifiers are numbered, field
names are emitted as string literals through ``repr``), never from request
data, so no user input reaches ``compile``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schema.compiled.plan import Completer, ObjectPlan

MAX_INT = 2_147_483_647
MIN_INT = -2_147_483_648


class Slow(Exception):
    """Raised inside generated code: complete this object on the generic path."""


_SLOW = Slow
_AWAITABLE_TYPES: dict[type, bool] = {}


def is_awaitable_type(t: type) -> bool:
    """Whether values of type ``t`` are awaitable (cached: the ABC check is slow)."""
    known = _AWAITABLE_TYPES.get(t)
    if known is None:
        known = _AWAITABLE_TYPES[t] = issubclass(t, Awaitable)
    return known


#: result types of synchronous resolvers that are certainly not awaitable
_PLAIN = frozenset({str, int, float, bool, type(None), list, tuple, dict, Decimal, datetime})


def _null() -> Any:
    raise Slow


def _not_awaitable(value: Any) -> Any:
    if is_awaitable_type(type(value)):
        # Never awaited here: close coroutines so they do not warn; the generic
        # path calls the resolver again and awaits its result.
        close = getattr(value, "close", None)
        if close is not None:
            close()
        raise Slow
    return value


class _Gen:
    def __init__(self) -> None:
        self.env: dict[str, Any] = {
            "_SLOW": _SLOW,
            "_null": _null,
            "_isfinite": math.isfinite,
            "_MIN": MIN_INT,
            "_MAX": MAX_INT,
            "_na": _not_awaitable,
            "_PLAIN": _PLAIN,
            "_slow": _null,
        }
        self.lines: list[str] = []
        self.counter = 0

    def name(self, prefix: str, value: Any) -> str:
        self.counter += 1
        ident = f"{prefix}{self.counter}"
        self.env[ident] = value
        return ident

    def leaf_expr(self, c: Completer, var: str) -> str | None:
        """An expression completing the non-null leaf in ``var``."""
        from schema.compiled.plan import LEAF_BOOL, LEAF_FLOAT, LEAF_INT, LEAF_STR

        if c.serialize is None:
            return None
        s = self.name("s", c.serialize)
        lk = c.leaf_kind
        if lk == LEAF_STR:
            return f"({var} if type({var}) is str else {s}({var}))"
        if lk == LEAF_INT:
            return f"({var} if type({var}) is int and _MIN <= {var} <= _MAX else {s}({var}))"
        if lk == LEAF_BOOL:
            return f"({var} if type({var}) is bool else {s}({var}))"
        if lk == LEAF_FLOAT:
            return f"({var} if type({var}) is float and _isfinite({var}) else {s}({var}))"
        return f"{s}({var})"

    def value_expr(self, c: Completer, var: str, depth: int) -> str | None:
        """An expression completing the non-null value in ``var`` of completer ``c``."""
        from schema.compiled.plan import LEAF, LIST, OBJECT

        if c.kind == LEAF:
            return self.leaf_expr(c, var)
        if c.kind == OBJECT:
            if c.plan is None or c.plan.fast is None:
                return None
            return f"{self.name('f', c.plan.fast)}({var})"
        if c.kind == LIST:
            item = c.item
            if item is None:
                return None
            x = f"x{depth}"
            inner = self.value_expr(item, x, depth + 1)
            if inner is None:
                return None
            guard = "None" if item.nullable else "_null()"
            listed = f"({var} if type({var}) is list or type({var}) is tuple else _slow())"
            return f"[({guard} if {x} is None else {inner}) for {x} in {listed}]"
        return None


def compile_object(plan: ObjectPlan) -> Callable[[Any], dict[str, Any]] | None:
    """The generated completion function for ``plan``, or None when it is not pure."""
    from schema.compiled.plan import ATTR, RESOLVER, TYPENAME

    gen = _Gen()
    body: list[str] = []
    entries: list[str] = []
    for i, fp in enumerate(plan.fields):
        r = f"r{i}"
        if fp.kind == TYPENAME:
            entries.append(f"{fp.key!r}: {plan.type_name!r}")
            continue
        if fp.kind == ATTR:
            if not fp.attr.isidentifier():
                return None
            body.append(f"v = src.{fp.attr}")
        elif fp.kind == RESOLVER:
            if (
                fp.is_async
                or fp.info_name is not None
                or fp.static_kwargs is None
                or fp.func is None
            ):
                return None
            func = gen.name("g", fp.func)
            args = ["src"] if fp.pass_self else []
            for name in fp.source_names:
                args.append(f"{name}=src")
            if fp.static_kwargs:
                args.append(f"**{gen.name('k', fp.static_kwargs)}")
            body.append(f"v = {func}({', '.join(args)})")
            body.append("if type(v) not in _PLAIN: v = _na(v)")
        else:
            return None
        expr = gen.value_expr(fp.completer, "v", 0)
        if expr is None:
            return None
        if fp.completer.nullable:
            body.append(f"{r} = None if v is None else {expr}")
        else:
            body.append("if v is None: raise _SLOW")
            body.append(f"{r} = {expr}")
        entries.append(f"{fp.key!r}: {r}")
    lines = ["def complete(src):"]
    lines += [f"    {line}" for line in body]
    lines.append("    return {" + ", ".join(entries) + "}")
    source = "\n".join(lines)
    code = compile(source, f"<plan {plan.type_name}>", "exec")
    namespace = dict(gen.env)
    exec(code, namespace)  # noqa: S102 - text generated from the plan only (see module doc)
    fn: Callable[[Any], dict[str, Any]] = namespace["complete"]
    fn.__doc__ = source
    return fn


def as_coroutine(aw: Awaitable[Any]) -> Any:
    """Wrap a non-coroutine awaitable so the trampoline can drive it with ``send``."""

    async def wrapper() -> Any:
        return await aw

    return wrapper()


def _leaf_check(c: Completer) -> str | None:
    """A condition under which a non-null leaf in ``v`` is its own serialisation."""
    from schema.compiled.plan import LEAF, LEAF_BOOL, LEAF_FLOAT, LEAF_INT, LEAF_STR

    if c.kind != LEAF:
        return None
    return {
        LEAF_STR: "type(v) is str",
        LEAF_INT: "type(v) is int and _MIN <= v <= _MAX",
        LEAF_BOOL: "type(v) is bool",
        LEAF_FLOAT: "type(v) is float and _isfinite(v)",
    }.get(c.leaf_kind)


def compile_resolve(plan: ObjectPlan) -> Callable[[Any, Any, list[Any]], None] | None:
    """The generated field loop of ``Run.resolve_node`` for ``plan``, or None.

    Same steps as the generic loop, in the same order, unrolled per field:
    attribute reads and resolver calls inline, scalars that are already their
    own serialisation stored directly, everything else (nulls, conversions,
    objects, lists, errors) handed to the run's generic methods.
    """
    from schema.compiled.plan import ATTR, RESOLVER, TYPENAME

    gen = _Gen()
    gen.env["_as_co"] = as_coroutine
    gen.env["_aw"] = is_awaitable_type
    lines = [
        "def resolve(run, node, pending):",
        "    src = node.source",
        "    result = node.result",
    ]
    for fp in plan.fields:
        key = repr(fp.key)
        if fp.kind == TYPENAME:
            lines.append(f"    result[{key}] = {plan.type_name!r}")
            continue
        f = gen.name("fp", fp)
        if fp.kind == ATTR:
            if not fp.attr.isidentifier():
                return None
            get = f"src.{fp.attr}"
        elif fp.kind == RESOLVER and fp.func is not None:
            args = ["src"] if fp.pass_self else []
            if fp.info_name is not None:
                args.append(f"{fp.info_name}=run.info_for({f}, node)")
            args += [f"{name}=src" for name in fp.source_names]
            if fp.static_kwargs is None:
                args.append(f"**run.kwargs_by_field[{id(fp)}]")
            elif fp.static_kwargs:
                args.append(f"**{gen.name('k', fp.static_kwargs)}")
            get = f"{gen.name('g', fp.func)}({', '.join(args)})"
        else:
            return None
        lines += [
            "    try:",
            f"        v = {get}",
            "    except Exception as exc:",
            f"        run.field_error(exc, node, {f})",
            "    else:",
        ]
        indent = "        "
        if fp.kind == RESOLVER:
            if fp.is_async:
                lines.append(f"        pending.append((v, node, {f}))")
                continue
            lines += [
                "        if type(v) not in _PLAIN and _aw(type(v)):",
                f"            pending.append((_as_co(v), node, {f}))",
                "        else:",
            ]
            indent = "            "
        check = _leaf_check(fp.completer)
        if check is None:
            lines.append(f"{indent}run.complete_field({f}, v, node)")
        else:
            lines += [
                f"{indent}if {check}:",
                f"{indent}    result[{key}] = v",
                f"{indent}else:",
                f"{indent}    run.complete_field({f}, v, node)",
            ]
    source = "\n".join(lines)
    namespace = dict(gen.env)
    exec(compile(source, f"<resolve {plan.type_name}>", "exec"), namespace)  # noqa: S102 - see module doc
    fn: Callable[[Any, Any, list[Any]], None] = namespace["resolve"]
    fn.__doc__ = source
    return fn


def compile_list(c: Completer) -> Callable[[Any], list[Any]] | None:
    """The generated completion of a whole (non-null) list value, or None."""
    gen = _Gen()
    expr = gen.value_expr(c, "value", 0)
    if expr is None:
        return None
    source = f"def complete(value):\n    return {expr}"
    namespace = dict(gen.env)
    exec(compile(source, "<plan list>", "exec"), namespace)  # noqa: S102 - see module doc
    fn: Callable[[Any], list[Any]] = namespace["complete"]
    fn.__doc__ = source
    return fn
