"""Running a plan: level by level, one wait per level, no task per field.

The executor walks the result tree breadth first. For every object waiting at
the current level it calls each field's resolver; synchronous values are
completed at once, while coroutines are collected. The collected coroutines
are then driven together by a small trampoline (``coroutine.send``) instead of
being wrapped in one asyncio task each: every coroutine runs until it awaits a
future (a DataLoader load), all those futures are awaited together, and the
coroutines are resumed. Every load of a level is therefore issued before the
first wait, so loaders batch across the whole level, and no task, ``Info`` or
``Path`` is built for fields that do not need one.

Errors follow the GraphQL specification: an exception in a resolver or a null
for a non-null type is reported with its path and locations, and null
propagates to the nearest nullable position. All errors are collected; which
of them the response carries is decided by :mod:`schema.compiled.errors`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, located_error
from graphql.pyutils import Path
from strawberry.types.info import Info

from loaders.base import wait_all
from schema.compiled.fast import MAX_INT, MIN_INT, as_coroutine
from schema.compiled.fast import is_awaitable_type as _is_awaitable
from schema.compiled.plan import (
    ATTR,
    LEAF,
    LEAF_BOOL,
    LEAF_FLOAT,
    LEAF_INT,
    LEAF_STR,
    LIST,
    OBJECT,
    TYPENAME,
    Completer,
    FieldPlan,
    ObjectPlan,
)

Position = tuple[str | int, ...]
#: (container, key, nullable) from the innermost position outward, up to the node
Chain = tuple[tuple[Any, str | int, bool], ...]


@dataclass(slots=True)
class Node:
    """An object in the result tree whose fields are still to be resolved."""

    plan: ObjectPlan
    source: Any
    result: dict[str, Any]
    path: Position
    chain: Chain  # where this node's dict lives, innermost first
    parent: Node | None


#: coroutines to drive, each with its node (a list of nodes for a batch) and field
Pending = list[tuple[Coroutine[Any, Any, Any], Node | list[Node], FieldPlan]]


@dataclass(eq=False)
class PlanInfo(Info[Any, Any]):
    """Strawberry ``Info`` with the path computed on demand.

    The graphql-core ``GraphQLResolveInfo`` is shared by all objects of one
    field in one request; only the path differs, and it is built from a tuple
    when (rarely) a resolver asks for it.
    """

    _position: Position = ()

    @property
    def path(self) -> Path:
        path: Path | None = None
        typename = self._raw_info.parent_type.name
        for key in self._position:
            path = Path(path, key, typename if isinstance(key, str) else None)
        assert path is not None
        return path


class Run:
    """One execution of an operation plan."""

    def __init__(
        self,
        *,
        context: Any,
        root_value: Any,
        make_raw_info: Callable[[FieldPlan], GraphQLResolveInfo[Any]],
        kwargs_by_field: dict[int, dict[str, Any]],
    ) -> None:
        self.context = context
        self.root_value = root_value
        self.make_raw_info = make_raw_info
        self.kwargs_by_field = kwargs_by_field
        self.raw_infos: dict[int, GraphQLResolveInfo[Any]] = {}
        self.errors: list[tuple[GraphQLError, Position]] = []
        self.nulled: set[Position] = set()
        self.data_nulled = False
        self.next_level: list[Node] = []
        #: batched fields of the current level: id(field plan) -> (plan, nodes)
        self.batches: dict[int, tuple[FieldPlan, list[Node]]] = {}

    # -- entry ----------------------------------------------------------------
    async def execute(self, plan: ObjectPlan) -> dict[str, Any] | None:
        data: dict[str, Any] = dict.fromkeys(plan.keys)
        level = [Node(plan, self.root_value, data, (), (), None)]
        while level:
            self.next_level = []
            pending: Pending = []
            for node in level:
                # Objects below a nulled position still run, as in graphql-core:
                # their errors take part in choosing the canonical error list.
                generated = node.plan.resolve
                if generated is not None:
                    generated(self, node, pending)
                else:
                    self.resolve_node(node, pending)
            if self.batches:
                self.start_batches(pending)
            if pending:
                await self.drive(pending)
            level = self.next_level
        return None if self.data_nulled else data

    def resolve_node(self, node: Node, pending: Pending) -> None:
        source = node.source
        result = node.result
        for fp in node.plan.fields:
            kind = fp.kind
            if kind == ATTR:
                try:
                    assert fp.read is not None
                    value = fp.read(source)
                except Exception as exc:
                    self.field_error(exc, node, fp)
                    continue
            elif kind == TYPENAME:
                result[fp.key] = node.plan.type_name
                continue
            elif fp.batch is not None:
                self.defer(fp, node)
                continue
            else:
                try:
                    value = self.call(fp, node)
                except Exception as exc:
                    self.field_error(exc, node, fp)
                    continue
                if fp.is_async:
                    pending.append((value, node, fp))
                    continue
                if _is_awaitable(type(value)):
                    pending.append((as_coroutine(value), node, fp))
                    continue
            self.complete_field(fp, value, node)

    def call(self, fp: FieldPlan, node: Node) -> Any:
        kwargs = fp.static_kwargs
        if kwargs is None:
            kwargs = self.kwargs_by_field[id(fp)]
        if fp.info_name is not None or fp.source_names:
            kwargs = dict(kwargs)
            if fp.info_name is not None:
                kwargs[fp.info_name] = self.info_for(fp, node)
            for name in fp.source_names:
                kwargs[name] = node.source
        assert fp.func is not None
        if fp.pass_self:
            return fp.func(node.source, **kwargs)
        return fp.func(**kwargs)

    def info_for(self, fp: FieldPlan, node: Node) -> PlanInfo:
        raw = self.raw_infos.get(id(fp))
        if raw is None:
            raw = self.raw_infos[id(fp)] = self.make_raw_info(fp)
        assert fp.strawberry_field is not None
        return PlanInfo(_raw_info=raw, _field=fp.strawberry_field, _position=(*node.path, fp.key))

    # -- batches ----------------------------------------------------------------
    def defer(self, fp: FieldPlan, node: Node) -> None:
        """Resolve ``fp`` for ``node`` with the level's other objects (one batch call)."""
        group = self.batches.get(id(fp))
        if group is None:
            self.batches[id(fp)] = (fp, [node])
        else:
            group[1].append(node)

    def start_batches(self, pending: Pending) -> None:
        """Call each batched field's batch resolver once for its nodes of this level."""
        groups = list(self.batches.values())
        self.batches.clear()
        for fp, nodes in groups:
            kwargs = fp.static_kwargs
            if kwargs is None:
                kwargs = self.kwargs_by_field[id(fp)]
            assert fp.batch is not None
            try:
                value = fp.batch(
                    [node.source for node in nodes], self.info_for(fp, nodes[0]), **kwargs
                )
                if not asyncio.iscoroutine(value):
                    value = _ready(value)
            except Exception as exc:
                for node in nodes:
                    self.field_error(exc, node, fp)
                continue
            pending.append((value, nodes, fp))

    def complete_batch(self, fp: FieldPlan, values: Any, nodes: list[Node]) -> None:
        if not isinstance(values, (list, tuple)) or len(values) != len(nodes):
            got = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
            error = TypeError(
                f"batch resolver of {fp.parent_type.name}.{fp.name} returned {got}"
                f" for {len(nodes)} objects"
            )
            for node in nodes:
                self.field_error(error, node, fp)
            return
        fast = fp.completer.fast
        key = fp.key
        for node, value in zip(nodes, values, strict=True):
            if fast is not None and value is not None and not isinstance(value, Exception):
                # complete_field's generated completion, without a call per object
                try:
                    node.result[key] = fast(value)
                    continue
                except Exception:  # noqa: S110 - complete_field reports it exactly
                    pass
            if isinstance(value, Exception):
                self.field_error(value, node, fp)
            else:
                self.complete_field(fp, value, node)

    # -- coroutines -------------------------------------------------------------
    async def drive(self, pending: Pending) -> None:
        """Run coroutines to completion, awaiting what they wait on together.

        An entry's node is a list for a batch resolver's coroutine (all its objects).
        """
        waiting: list[tuple[Coroutine[Any, Any, Any], Node | list[Node], FieldPlan]] = pending
        futures: list[Any] = []
        try:
            while waiting:
                ready = waiting
                waiting = []
                futures = []
                for coro, node, fp in ready:
                    try:
                        yielded = coro.send(None)
                    except StopIteration as stop:
                        if type(node) is list:
                            self.complete_batch(fp, stop.value, node)
                        else:
                            self.complete_field(fp, stop.value, node)  # type: ignore[arg-type]
                        continue
                    except Exception as exc:
                        for each in node if type(node) is list else (node,):
                            self.field_error(exc, each, fp)  # type: ignore[arg-type]
                        continue
                    waiting.append((coro, node, fp))
                    if yielded is not None:
                        if getattr(yielded, "_asyncio_future_blocking", None) is not None:
                            yielded._asyncio_future_blocking = False
                        futures.append(yielded)
                if futures:
                    await wait_all(futures)
                elif waiting:
                    await asyncio.sleep(0)  # a bare yield: let the loop run once
        finally:
            for coro, _node, _fp in waiting:
                coro.close()

    # -- completion --------------------------------------------------------------
    def complete_field(self, fp: FieldPlan, value: Any, node: Node) -> None:
        c = fp.completer
        key = fp.key
        result = node.result
        if value is None:
            if c.nullable:
                result[key] = None
            else:
                self.null_violation(fp, node, (*node.path, key), ((result, key, False),))
            return
        if c.kind == LEAF:
            lk = c.leaf_kind
            tv = type(value)
            if (
                (lk == LEAF_STR and tv is str)
                or (lk == LEAF_INT and tv is int and MIN_INT <= value <= MAX_INT)
                or (lk == LEAF_BOOL and tv is bool)
                or (lk == LEAF_FLOAT and tv is float and math.isfinite(value))
            ):
                result[key] = value
                return
            try:
                assert c.serialize is not None
                result[key] = c.serialize(value)
            except Exception as exc:
                self.field_error(exc, node, fp)
            return
        fast = c.fast
        if fast is not None:
            # generated completion first: no path is built unless it gives up
            try:
                result[key] = fast(value)
                return
            except Exception:  # noqa: S110 - the generic path reports it exactly
                pass
        elif c.kind == OBJECT:
            # an object with fields to resolve: its node, without the generic dispatch
            assert c.plan is not None
            self.enqueue(c.plan, value, result, key, c.nullable, (*node.path, key), (), node)
            return
        self.complete_generic(c, value, result, key, node, fp, (*node.path, key), ())

    def complete_value(
        self,
        c: Completer,
        value: Any,
        container: Any,
        key: str | int,
        node: Node,
        fp: FieldPlan,
        path: Position,
        outer: Chain,
    ) -> None:
        """Complete ``value`` of completer ``c`` into ``container[key]`` (not None)."""
        fast = c.fast
        if fast is not None:
            try:
                container[key] = fast(value)
                return
            except Exception:  # noqa: S110 - the generic path reports it exactly
                pass
        self.complete_generic(c, value, container, key, node, fp, path, outer)

    def complete_generic(
        self,
        c: Completer,
        value: Any,
        container: Any,
        key: str | int,
        node: Node,
        fp: FieldPlan,
        path: Position,
        outer: Chain,
    ) -> None:
        """:meth:`complete_value` without generated code: errors, paths and nulls exactly."""
        kind = c.kind
        if kind == OBJECT:
            assert c.plan is not None
            self.enqueue(c.plan, value, container, key, c.nullable, path, outer, node)
            return
        if kind == LIST:
            tv = type(value)
            if (
                tv is not list
                and tv is not tuple
                and (isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable))
            ):
                err = GraphQLError(
                    f"Expected Iterable, but did not find one for field"
                    f" '{fp.parent_type.name}.{fp.name}'."
                )
                self.error_at(err, node, fp, path, ((container, key, c.nullable), *outer))
                return
            items = value if tv is list else list(value)
            out: list[Any] = [None] * len(items)
            container[key] = out
            item_c = c.item
            assert item_c is not None
            chain: Chain = ((container, key, c.nullable), *outer)
            # objects with fields to resolve (no generated completion): their nodes
            # directly, not through complete_value and complete_generic per item
            item_plan = item_c.plan if item_c.kind == OBJECT and item_c.fast is None else None
            if item_plan is not None:
                # enqueue, inline: one node per object for the next level
                keys = item_plan.keys
                add = self.next_level.append
                nullable = item_c.nullable
                for i, item in enumerate(items):
                    if item is None:
                        if not nullable:
                            ipath = (*path, i)
                            self.null_violation(fp, node, ipath, ((out, i, False), *chain))
                        continue
                    res: dict[str, Any] = dict.fromkeys(keys)
                    out[i] = res
                    add(Node(item_plan, item, res, (*path, i), ((out, i, nullable), *chain), node))
                return
            for i, item in enumerate(items):
                ipath = (*path, i)
                if item is None:
                    if not item_c.nullable:
                        self.null_violation(fp, node, ipath, ((out, i, False), *chain))
                    continue
                if item_c.kind == LEAF:
                    if item_c.leaf_kind == LEAF_STR and type(item) is str:
                        out[i] = item
                        continue
                    try:
                        assert item_c.serialize is not None
                        out[i] = item_c.serialize(item)
                    except Exception as exc:
                        self.error_at(exc, node, fp, ipath, ((out, i, item_c.nullable), *chain))
                    continue
                self.complete_value(item_c, item, out, i, node, fp, ipath, chain)
            return
        # LEAF nested in a list is handled above; a top-level leaf never reaches here.
        try:
            assert c.serialize is not None
            container[key] = c.serialize(value)
        except Exception as exc:
            self.error_at(exc, node, fp, path, ((container, key, c.nullable), *outer))

    def enqueue(
        self,
        plan: ObjectPlan,
        value: Any,
        container: Any,
        key: str | int,
        nullable: bool,
        path: Position,
        outer: Chain,
        parent: Node,
    ) -> None:
        """An object whose fields are still to resolve: its result dict goes into
        ``container[key]`` and its node into the next level."""
        res: dict[str, Any] = dict.fromkeys(plan.keys)
        container[key] = res
        self.next_level.append(
            Node(plan, value, res, path, ((container, key, nullable), *outer), parent)
        )

    # -- errors and null propagation -------------------------------------------
    def field_error(self, exc: Exception, node: Node, fp: FieldPlan) -> None:
        path = (*node.path, fp.key)
        self.error_at(exc, node, fp, path, ((node.result, fp.key, fp.completer.nullable),))

    def null_violation(self, fp: FieldPlan, node: Node, path: Position, chain: Chain) -> None:
        err = GraphQLError(
            f"Cannot return null for non-nullable field {fp.parent_type.name}.{fp.name}."
        )
        self.error_at(err, node, fp, path, chain)

    def error_at(
        self, exc: Exception, node: Node, fp: FieldPlan, path: Position, chain: Chain
    ) -> None:
        error = located_error(exc, fp.field_nodes, list(path))
        position = self.propagate(node, path, chain)
        self.errors.append((error, position))

    def propagate(self, node: Node, path: Position, chain: Chain) -> Position:
        """Null the nearest nullable position at or above ``path``; return it."""
        pos = path
        current: Node | None = node
        while True:
            for container, key, nullable in chain:
                if nullable:
                    container[key] = None
                    self.nulled.add(pos)
                    return pos
                pos = pos[:-1]
            assert current is not None
            chain = current.chain
            current = current.parent
            if current is None:
                self.data_nulled = True
                self.nulled.add(())
                return ()

    def errors_list(self) -> list[GraphQLError]:
        return [error for error, _position in self.errors]


async def _ready(value: Any) -> Any:
    """A batch resolver that returned its values (or an awaitable of them) directly."""
    if _is_awaitable(type(value)):
        return await value
    return value
