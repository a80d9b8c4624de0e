"""Straight-line completion for pure selection sets, generated once per plan.

Most objects in a response are plain values: a price source, a signal, a
candle — every selected field is an attribute read (or a synchronous resolver
without ``info``) completed as a leaf, a nested pure object or a list of them.
For such an :class:`~schema.compiled.plan.ObjectPlan` this module generates a
Python function (source text compiled with ``compile``) that builds the
result dict in one expression per field, with the leaf checks inlined::

    def complete(src):
        v = src.kind
        if v is None: raise _Slow
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
    from schema.compiled.plan import Completer, FieldPlan, ObjectPlan

MAX_INT = 2_147_483_647
MIN_INT = -2_147_483_648


class Slow(Exception):
    """Raised inside generated code: complete this object on the generic path."""


_AWAITABLE_TYPES: dict[type, bool] = {}


def is_awaitable_type(t: type) -> bool:
    """Whether values of type ``t`` are awaitable (cached: the ABC check is slow)."""
    known = _AWAITABLE_TYPES.get(t)
    if known is None:
        known = _AWAITABLE_TYPES[t] = issubclass(t, Awaitable)
    return known


#: result types of synchronous resolvers that are certainly not awaitable; types seen
#: to be plain at run time (enums, our own objects) join it, up to a bound
_PLAIN: set[type] = {str, int, float, bool, type(None), list, tuple, dict, Decimal, datetime}
_PLAIN_MAX = 512


def _slow() -> Any:
    raise Slow


def _awaitable(t: type) -> bool:
    """``is_awaitable_type``, remembering a plain ``t`` in ``_PLAIN`` (checked first)."""
    if is_awaitable_type(t):
        return True
    if len(_PLAIN) < _PLAIN_MAX:
        _PLAIN.add(t)
    return False


def _not_awaitable(value: Any) -> Any:
    t = type(value)
    if not is_awaitable_type(t):
        if len(_PLAIN) < _PLAIN_MAX:
            _PLAIN.add(t)
        return value
    # Never awaited here: close coroutines so they do not warn; the generic
    # path calls the resolver again and awaits its result.
    close = getattr(value, "close", None)
    if close is not None:
        close()
    raise Slow


class _Gen:
    def __init__(self) -> None:
        self.env: dict[str, Any] = {
            "_Slow": Slow,
            "_slow": _slow,
            "_isfinite": math.isfinite,
            "_MIN": MIN_INT,
            "_MAX": MAX_INT,
            "_na": _not_awaitable,
            "_PLAIN": _PLAIN,
            "_as_co": as_coroutine,
            "_aw": _awaitable,
            "_datetime": datetime,
            "_keep": _keep,
        }
        self.counter = 0

    def name(self, prefix: str, value: Any) -> str:
        self.counter += 1
        ident = f"{prefix}{self.counter}"
        self.env[ident] = value
        return ident

    def leaf_expr(self, c: Completer, var: str) -> str | None:
        """An expression completing the non-null leaf in ``var``."""
        if c.serialize is None:
            return None
        s = self.name("s", c.serialize)
        if c.memo is not None:
            return f"({self.name('m', c.memo)}.get(id({var})) or {s}({var}))"
        if c.iso_memo is not None:
            # plain datetimes only: a subclass may print itself differently
            m = self.name("m", c.iso_memo)
            hit = f"{m}.get(({var}, {var}.tzinfo))"
            return f"(({hit} if type({var}) is _datetime else None) or {s}({var}))"
        check = leaf_check(c, var)
        return f"{s}({var})" if check is None else f"({var} if {check} else {s}({var}))"

    def call(self, fp: FieldPlan, *, info: str | None, variables: str | None) -> str | None:
        """The call of ``fp``'s resolver on ``src``: ``info`` and ``variables`` are the
        expressions for its info argument and per-request kwargs (None: not available)."""
        if fp.func is None:
            return None
        args = ["src"] if fp.pass_self else []
        if fp.info_name is not None:
            if info is None:
                return None
            args.append(f"{fp.info_name}={info}")
        args += [f"{name}=src" for name in fp.source_names]
        if fp.static_kwargs is None:
            if variables is None:
                return None
            args.append(f"**{variables}")
        elif fp.static_kwargs:
            args.append(f"**{self.name('k', fp.static_kwargs)}")
        return f"{self.name('g', fp.func)}({', '.join(args)})"

    def define(self, source: str, filename: str, name: str) -> Any:
        """Compile ``source`` and return its function ``name`` (its text as the doc)."""
        namespace = dict(self.env)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - see module doc
        fn = namespace[name]
        fn.__doc__ = source
        return fn

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
            guard = "None" if item.nullable else "_slow()"
            listed = f"({var} if type({var}) is list or type({var}) is tuple else _slow())"
            return f"[({guard} if {x} is None else {inner}) for {x} in {listed}]"
        return None


def compile_object(plan: ObjectPlan) -> Callable[[Any], dict[str, Any]] | None:
    """The generated completion function for ``plan``, or None when it is not pure."""
    gen = _Gen()
    found = _object_body(gen, plan)
    if found is None:
        return None
    body, result = found
    lines = ["def complete(src):"]
    lines += [f"    {line}" for line in body]
    lines.append(f"    return {result}")
    fn: Callable[[Any], dict[str, Any]] = gen.define(
        "\n".join(lines), f"<plan {plan.type_name}>", "complete"
    )
    return fn


def _object_body(gen: _Gen, plan: ObjectPlan) -> tuple[list[str], str] | None:
    """The lines completing the object in ``src`` of pure ``plan`` and the expression of
    its result dict (None: not pure). Its names are local to one object, so the lines
    can also run once per item of a list (:func:`compile_list`)."""
    from schema.compiled.plan import ATTR, LEAF, RESOLVER, TYPENAME

    body: list[str] = []
    entries: list[str] = []
    # A first attribute several fields read through (``record`` of a view) is read
    # once: reads are pure, and any failure sends the whole object to the generic path.
    firsts = [fp.attr.split(".")[0] for fp in plan.fields if fp.kind == ATTR and "." in fp.attr]
    hoisted: dict[str, str] = {}
    for first in dict.fromkeys(firsts):
        if firsts.count(first) > 1 and first.isidentifier():
            hoisted[first] = f"h{len(hoisted)}"
            body.append(f"{hoisted[first]} = src.{first}")
    for i, fp in enumerate(plan.fields):
        r = f"r{i}"
        if fp.kind == TYPENAME:
            entries.append(f"{fp.key!r}: {plan.type_name!r}")
            continue
        if fp.kind == ATTR:
            if not _is_path(fp.attr):
                return None
            first, _, rest = fp.attr.partition(".")
            read = f"{hoisted[first]}.{rest}" if first in hoisted else f"src.{fp.attr}"
            if fp.via is not None and fp.completer.kind == LEAF:
                memoised = _via_leaf(gen, fp, r, read)
                if memoised is None:
                    return None
                body += memoised
                entries.append(f"{fp.key!r}: {r}")
                continue
            if fp.via is not None:
                read = f"{gen.name('c', fp.via)}({read})"
            body.append(f"v = {read}")
        elif fp.kind == RESOLVER and not fp.is_async:
            call = gen.call(fp, info=None, variables=None)
            if call is None:
                return None
            body.append(f"v = {call}")
            body.append("if type(v) not in _PLAIN: v = _na(v)")
        else:
            return None
        expr = gen.value_expr(fp.completer, "v", 0)
        if expr is None:
            return None
        if fp.completer.nullable:
            body.append(f"{r} = None if v is None else {expr}")
        else:
            body.append("if v is None: raise _Slow")
            body.append(f"{r} = {expr}")
        entries.append(f"{fp.key!r}: {r}")
    return body, "{" + ", ".join(entries) + "}"


def _via_leaf(gen: _Gen, fp: FieldPlan, r: str, read: str) -> list[str] | None:
    """Lines completing a converted read (``@reads(path, via=fn)``) of a leaf, the
    value of the expression ``read``, into ``r``, memoised per stored string: a stored
    ``"bullish"`` becomes ``"BULLISH"`` with one dict lookup instead of a call of the
    conversion and the serialiser.

    Declared conversions are pure (:func:`schema.compiled.batch.reads`), and only
    immutable serialisations of ``str`` inputs are kept (bounded), so a memoised
    answer is the one the conversion and serialiser would give.
    """
    c = fp.completer
    expr = gen.value_expr(c, "v", 0)
    if expr is None:
        return None
    memo = gen.name("mv", {})
    lines = [
        f"raw = {read}",
        f"{r} = {memo}.get(raw) if type(raw) is str else None",
        f"if {r} is None:",
        f"    v = {gen.name('c', fp.via)}(raw)",
    ]
    if c.nullable:
        lines.append(f"    {r} = None if v is None else {expr}")
    else:
        lines += ["    if v is None: raise _Slow", f"    {r} = {expr}"]
    lines.append(f"    if type(raw) is str: _keep({memo}, raw, {r})")
    return lines


_VIA_MEMO_SIZE = 4096


def _keep(memo: dict[str, Any], raw: str, result: Any) -> None:
    """Remember ``result`` for ``raw`` if it is an immutable, non-null serialisation."""
    if type(result) in (str, int, float, bool):
        if len(memo) >= _VIA_MEMO_SIZE:
            memo.clear()
        memo[raw] = result


def _is_path(attr: str) -> bool:
    """Whether ``attr`` can be emitted as ``src.<attr>`` (identifiers joined by dots)."""
    return bool(attr) and all(part.isidentifier() for part in attr.split("."))


def as_coroutine(aw: Awaitable[Any]) -> Any:
    """Wrap a non-coroutine awaitable so the trampoline can drive it with ``send``."""

    async def wrapper() -> Any:
        return await aw

    return wrapper()


def leaf_check(c: Completer, var: str) -> str | None:
    """A condition under which the non-null leaf in ``var`` is its own serialisation
    (None: it always goes through the serialiser). The generic path in
    ``schema.compiled.run`` applies the same rule at run time."""
    from schema.compiled.plan import LEAF, LEAF_BOOL, LEAF_FLOAT, LEAF_INT, LEAF_STR

    if c.kind != LEAF:
        return None
    lk = c.leaf_kind
    if lk == LEAF_STR:
        return f"type({var}) is str"
    if lk == LEAF_INT:
        return f"type({var}) is int and _MIN <= {var} <= _MAX"
    if lk == LEAF_BOOL:
        return f"type({var}) is bool"
    if lk == LEAF_FLOAT:
        return f"type({var}) is float and _isfinite({var})"
    return None


def compile_resolve(plan: ObjectPlan) -> Callable[[Any, Any, list[Any]], None] | None:
    """The generated field loop of ``Run.resolve_node`` for ``plan``, or None.

    Same steps as the generic loop, in the same order, unrolled per field:
    attribute reads and resolver calls inline, scalars that are already their
    own serialisation stored directly, everything else (nulls, conversions,
    objects, lists, errors) handed to the run's generic methods.
    """
    from schema.compiled.plan import ATTR, OBJECT, RESOLVER, TYPENAME

    gen = _Gen()
    lines = [
        "def resolve(run, node, pending):",
        "    src = node.source",
        "    result = node.result",
    ]
    if any(fp.kind == RESOLVER and fp.batch is not None for fp in plan.fields):
        lines.append("    batches = run.batches")
    for fp in plan.fields:
        key = repr(fp.key)
        if fp.kind == TYPENAME:
            lines.append(f"    result[{key}] = {plan.type_name!r}")
            continue
        f = gen.name("fp", fp)
        if fp.kind == RESOLVER and fp.batch is not None:
            # Run.defer, inline: the node joins this level's batch of the field
            lines += [
                f"    b = batches.get({id(fp)})",
                f"    if b is None: batches[{id(fp)}] = ({f}, [node])",
                "    else: b[1].append(node)",
            ]
            continue
        if fp.kind == ATTR:
            if not _is_path(fp.attr):
                return None
            get = f"src.{fp.attr}"
            if fp.via is not None:
                # the conversion's result remembered per stored string (see _via_leaf)
                memo = gen.name("mv", {})
                lines += [
                    "    try:",
                    f"        raw = {get}",
                    f"        v = {memo}.get(raw) if type(raw) is str else None",
                    "        if v is None:",
                    f"            v = {gen.name('c', fp.via)}(raw)",
                    f"            if type(raw) is str: _keep({memo}, raw, v)",
                ]
                get = ""
        elif fp.kind == RESOLVER:
            call = gen.call(
                fp, info=f"run.info_for({f}, node)", variables=f"run.kwargs_by_field[{id(fp)}]"
            )
            if call is None:
                return None
            get = call
        else:
            return None
        if get:
            lines += ["    try:", f"        v = {get}"]
        lines += [
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
        check = leaf_check(fp.completer, "v")
        c = fp.completer
        if check is None and c.fast is not None:
            # complete_field's generated completion, inline (it retries on failure)
            lines += [
                f"{indent}try:",
                f"{indent}    if v is None: raise _Slow",
                f"{indent}    result[{key}] = {gen.name('f', c.fast)}(v)",
                f"{indent}except Exception:",
                f"{indent}    run.complete_field({f}, v, node)",
            ]
        elif check is None and c.kind == OBJECT and c.plan is not None:
            # complete_field's step for an object with fields to resolve, inline
            path = f"(*node.path, {key})"
            lines += [
                f"{indent}if v is None:",
                f"{indent}    run.complete_field({f}, v, node)",
                f"{indent}else:",
                f"{indent}    run.enqueue({gen.name('p', c.plan)}, v, result, {key},"
                f" {c.nullable!r}, {path}, (), node)",
            ]
        elif check is None:
            lines.append(f"{indent}run.complete_field({f}, v, node)")
        else:
            lines += [
                f"{indent}if {check}:",
                f"{indent}    result[{key}] = v",
                f"{indent}else:",
                f"{indent}    run.complete_field({f}, v, node)",
            ]
    fn: Callable[[Any, Any, list[Any]], None] = gen.define(
        "\n".join(lines), f"<resolve {plan.type_name}>", "resolve"
    )
    return fn


def compile_list(c: Completer) -> Callable[[Any], list[Any]] | None:
    """The generated completion of a whole (non-null) list value, or None.

    A list of pure objects completes each item in the loop's own body (one call for
    the list, none per item); other lists are one comprehension.
    """
    from schema.compiled.plan import OBJECT

    gen = _Gen()
    item = c.item
    if item is not None and item.kind == OBJECT and item.plan is not None and item.fast:
        found = _object_body(gen, item.plan)
        if found is not None:
            body, result = found
            lines = [
                "def complete(value):",
                "    if type(value) is not list and type(value) is not tuple: raise _Slow",
                "    out = []",
                "    add = out.append",
                "    for src in value:",
                "        if src is None:",
                "            add(None)" if item.nullable else "            raise _Slow",
                "            continue",
            ]
            lines += [f"        {line}" for line in body]
            lines += [f"        add({result})", "    return out"]
            loop: Callable[[Any], list[Any]] = gen.define(
                "\n".join(lines), f"<plan list of {item.plan.type_name}>", "complete"
            )
            return loop
    expr = gen.value_expr(c, "value", 0)
    if expr is None:
        return None
    fn: Callable[[Any], list[Any]] = gen.define(
        f"def complete(value):\n    return {expr}", "<plan list>", "complete"
    )
    return fn
