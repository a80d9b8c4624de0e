"""Live subscriptions: the resolver side of ``Subscription.*`` (see docs/subscriptions.md).

Each field resolver validates its arguments, builds its
:class:`~resolvers.subscriptions.streams.Stream` and then either

* **joins a shared topic** when the transport gave it a sink (the WebSocket
  server puts one in ``ctx.extra["live_sink"]``): the topic renders every
  event once and the sink writes the bytes; the resolver itself yields
  nothing and returns at once, so strawberry's per-operation machinery (which
  ran the extensions: validation, scopes, cost, limits) is released right
  after admission; or
* **streams directly** (any other transport, e.g. an HTTP multipart
  subscription): a private broker subscription whose records graphql-core
  executes per event, with the same replay semantics.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Hashable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLResolveInfo, Visitor, print_ast, visit

from loaders.registry import build_loaders
from pubsub.broker import Broker, ReplayWindowExceeded
from resolvers.context import Context
from resolvers.errors import BadUserInput, NotFound
from resolvers.intervals import parse_interval
from resolvers.principal import Principal
from resolvers.subscriptions import cursor
from resolvers.subscriptions.errors import ReplayUnavailable, StreamInterrupted
from resolvers.subscriptions.replay import window
from resolvers.subscriptions.streams import (
    BlocksStream,
    CandlesStream,
    EventMeta,
    PricesStream,
    SignalsStream,
    Stream,
)
from resolvers.subscriptions.topics import RenderSpec, TopicHub

log = logging.getLogger("cryptoql.subscriptions")

MAX_ASSETS_PER_SUBSCRIPTION = 100
Wrap = Callable[[Any, EventMeta], Any]
RawInfo = GraphQLResolveInfo[Any]
"""graphql-core's info (strawberry's ``info._raw_info``): the operation, fragments, schema."""


async def prices(
    ctx: Context,
    info: RawInfo,
    *,
    asset_ids: Sequence[str],
    quote: str,
    after: str | None,
    wrap: Wrap,
) -> AsyncGenerator[Any, None]:
    ids = await _assets(ctx, asset_ids)
    quote = quote.strip().upper()
    if not quote.isalnum() or len(quote) > 12:
        raise BadUserInput(f"invalid quote currency {quote!r}")
    return await _open(ctx, info, PricesStream(ids, quote, ctx.graph), after, wrap)


async def candles(
    ctx: Context,
    info: RawInfo,
    *,
    asset_id: str,
    interval: str,
    after: str | None,
    wrap: Wrap,
) -> AsyncGenerator[Any, None]:
    (aid,) = await _assets(ctx, [asset_id])
    try:
        iv = parse_interval(interval)
    except ValueError as exc:
        raise BadUserInput(str(exc)) from None
    return await _open(ctx, info, CandlesStream(aid, iv.name), after, wrap)


async def blocks(
    ctx: Context, info: RawInfo, *, chain_id: str, after: str | None, wrap: Wrap
) -> AsyncGenerator[Any, None]:
    hub: TopicHub | None = ctx.services.get("topics")
    slug = hub.known("chain", chain_id) if hub is not None else None
    if not isinstance(slug, str):
        chain = await ctx.loaders.chain_by_id.load(chain_id)
        if chain is None:
            raise NotFound(f"no chain {chain_id!r}", extensions={"chainId": chain_id})
        slug = chain.id
        if hub is not None:
            hub.remember("chain", chain_id, slug)
    return await _open(ctx, info, BlocksStream(slug), after, wrap)


async def signals(
    ctx: Context,
    info: RawInfo,
    *,
    asset_ids: Sequence[str],
    kinds: Sequence[str] | None,
    after: str | None,
    wrap: Wrap,
) -> AsyncGenerator[Any, None]:
    ids = await _assets(ctx, asset_ids)
    return await _open(ctx, info, SignalsStream(ids, kinds), after, wrap)


async def _assets(ctx: Context, asset_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(a.strip() for a in asset_ids))
    if not ids:
        raise BadUserInput("give at least one asset id")
    if len(ids) > MAX_ASSETS_PER_SUBSCRIPTION:
        raise BadUserInput(f"at most {MAX_ASSETS_PER_SUBSCRIPTION} assets per subscription")
    hub: TopicHub | None = ctx.services.get("topics")
    unknown = [a for a in ids if hub is None or not hub.known("asset", a)]
    if unknown:
        found = await ctx.loaders.asset_by_canonical_id.load_many(unknown)
        missing = [a for a, rec in zip(unknown, found, strict=True) if rec is None]
        if missing:
            raise NotFound(f"unknown asset ids: {', '.join(missing)}", extensions={"ids": missing})
        if hub is not None:
            for a in unknown:
                hub.remember("asset", a)
    return ids


# --- joining a topic or streaming directly ------------------------------------------


async def _open(
    ctx: Context, info: RawInfo, stream: Stream, after: str | None, wrap: Wrap
) -> AsyncGenerator[Any, None]:
    broker: Broker | None = ctx.services.get("broker")
    if broker is None:
        raise StreamInterrupted("live data is not available on this server")
    sink = ctx.extra.get("live_sink")
    hub: TopicHub | None = ctx.services.get("topics")
    if sink is not None and hub is not None:
        render = RenderSpec(
            schema=info.schema,
            document=DocumentNode(definitions=(info.operation, *info.fragments.values())),
            variables=getattr(sink, "raw_variables", None),
            operation_name=info.operation.name.value if info.operation.name else None,
            context_factory=event_context(ctx),
            wrap=wrap,
            selection_key=selection_key(info, ctx.principal),
        )
        await hub.attach(sink, stream, render, after)
        return _nothing()
    return _direct(broker, stream, after, wrap)


async def _nothing() -> AsyncGenerator[Any, None]:
    """The resolver's own stream when a topic delivers the events: ends at once."""
    return
    yield  # pragma: no cover - makes this an async generator


def event_context(ctx: Context) -> Callable[[], Context]:
    """A fresh context per rendered event: new loaders (no cache reuse across events).

    Shared by every subscriber of the topic, so it carries only what the topic
    key already fixes (tier and scopes), never the first subscriber's identity.
    """
    principal = Principal(client_ip="", tier=ctx.principal.tier, scopes=ctx.principal.scopes)
    base = replace(ctx, principal=principal, response=None, request=None, extra={})

    def make() -> Context:
        return replace(
            base,
            loaders=build_loaders(base.sessions),  # built on first use: most events need none
            now=datetime.now(UTC),
            request_id="live",
        )

    return make


class _Variables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_variable(self, node: Any, *_args: Any) -> None:
        self.names.add(node.name.value)


def selection_key(info: RawInfo, principal: Principal) -> Hashable:
    """What makes two subscriptions render identically: selection, its variables, visibility.

    The root field's arguments are left out (the stream key covers their
    resolved values, and ``after`` only changes where a subscriber starts).
    """
    node = info.field_nodes[0]
    stripped = FieldNode(
        alias=node.alias,
        name=node.name,
        arguments=(),
        directives=node.directives,
        selection_set=node.selection_set,
    )
    fragments = [info.fragments[name] for name in sorted(info.fragments)]
    text = print_ast(stripped) + "".join(print_ast(f) for f in fragments)
    collector = _Variables()
    for part in (stripped, *fragments):
        visit(part, collector)
    values: Any = info.variable_values  # strawberry passes the coerced dict
    values = getattr(values, "coerced", values)
    used = tuple(sorted((n, repr(values.get(n))) for n in collector.names))
    return (text, used, principal.tier, tuple(sorted(principal.scopes)))


async def _direct(
    broker: Broker, stream: Stream, after: str | None, wrap: Wrap
) -> AsyncGenerator[Any, None]:
    """A private, unshared stream (transports without a sink); same replay semantics."""
    channels = stream.channels
    dig = cursor.digest(channels)
    async with broker.subscribe(*channels) as events:
        positions = {ch: await broker.last_seq(ch) for ch in channels}
        state = stream.new_state()
        start = cursor.decode(after, broker.epoch, channels) if after is not None else positions
        try:
            history = await window(
                broker,
                channels,
                positions,
                since=start if after is not None else None,
                history=stream.needs_history,
            )
        except ReplayWindowExceeded as exc:
            raise ReplayUnavailable(
                "`after` is older than the replay window: refetch the current state "
                "with a query and subscribe without `after`",
                oldest={exc.channel: exc.oldest},
            ) from None
        current = dict(start)
        for event in history:
            if event.seq <= start[event.channel]:
                stream.absorb(state, event)
                continue
            current[event.channel] = event.seq
            emitted = stream.fold(state, event)
            if emitted is not None:
                meta = EventMeta(
                    event.channel,
                    event.seq,
                    event.ts,
                    cursor.encode(broker.epoch, channels, current, dig),
                )
                yield wrap(emitted.record, meta)
        async for event in events:
            if event.seq <= current.get(event.channel, 0):
                continue
            current[event.channel] = event.seq
            emitted = stream.fold(state, event)
            if emitted is not None:
                meta = EventMeta(
                    event.channel,
                    event.seq,
                    event.ts,
                    cursor.encode(broker.epoch, channels, current, dig),
                )
                yield wrap(emitted.record, meta)
