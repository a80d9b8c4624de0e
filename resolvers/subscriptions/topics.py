"""Shared topics: one execution and one serialized payload per event, for every subscriber.

Subscriptions with the same stream (field and arguments other than ``after``),
the same selection (fields, fragments and the variables they use) and the same
visibility (tier and scopes) join one :class:`Topic`. The topic reads the
broker once, folds each event through its :class:`~resolvers.subscriptions.
streams.Stream`, executes the selection once against the resulting record and
serializes the result once; each subscriber (:class:`Sink`) then only frames
and writes those bytes. graphql-core's per-subscriber ``subscribe`` machinery
is not used per event at all, so nothing accumulates per event either (the
executor is :class:`~resolvers.subscriptions.executor.EventScopedExecutor`).

Ordering and resumption. The topic tracks, per channel, the last sequence
number it processed (``positions``); every event's cursor encodes them. A
subscriber resuming with ``after`` joins buffered at the topic's current
positions, gets the retained events between its cursor and those positions
(rendered by a private fold, so replayed events are built exactly as live
ones), then the buffered live events: no gap and no duplicate. When the topic
itself falls behind (the broker reports a lagged queue, Redis reconnects) it
refills from the replay window before continuing; if the gap is older than
the window its subscribers get ``STREAM_INTERRUPTED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, Protocol

from graphql import DocumentNode, ExecutionResult, GraphQLSchema
from graphql.execution import execute_subscription_event

from pubsub.broker import (
    Broker,
    BrokerUnavailable,
    Event,
    ReplayWindowExceeded,
    SubscriptionLagged,
)
from resolvers.errors import CryptoQLError
from resolvers.subscriptions import cursor
from resolvers.subscriptions.errors import ReplayUnavailable, StreamInterrupted
from resolvers.subscriptions.executor import EventScopedExecutor
from resolvers.subscriptions.metering import Meter
from resolvers.subscriptions.render import serialize
from resolvers.subscriptions.replay import order, window
from resolvers.subscriptions.streams import EventMeta, Stream

log = logging.getLogger("cryptoql.subscriptions")

RESUME_WAIT_SECONDS = 5.0
KNOWN_TTL_SECONDS = 300.0
KNOWN_MAX = 100_000
RESUME_BUFFER_LIMIT = 10_000
RECONNECT_BACKOFF_MAX = 5.0


class Sink(Protocol):
    """One subscriber of a topic (a WebSocket operation, or an in-process consumer)."""

    budget_key: str
    tier: str
    event_cost: float

    def deliver(self, payload: str, key: Hashable | None, replay: bool) -> None:
        """Queue one serialized ``{"data": …}`` payload; never blocks."""
        ...

    def fail(self, error: dict[str, Any]) -> None:
        """End the subscription with ``error`` (a formatted GraphQL error)."""
        ...


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """How a topic renders events: the document and the per-event context and root."""

    schema: GraphQLSchema
    document: DocumentNode
    variables: dict[str, Any] | None
    operation_name: str | None
    context_factory: Callable[[], Any]
    wrap: Callable[[Any, EventMeta], Any]
    selection_key: Hashable


@dataclass
class HubStats:
    events: int = 0
    renders: int = 0
    render_seconds: float = 0.0
    deliveries: int = 0
    throttled: int = 0
    render_errors: int = 0
    catch_ups: int = 0
    interrupted: int = 0


@dataclass
class _Member:
    sink: Sink
    buffer: list[tuple[str, str, int, Hashable | None]] | None = None
    floor: dict[str, int] = field(default_factory=dict)


class Topic:
    def __init__(self, hub: TopicHub, key: Hashable, stream: Stream, render: RenderSpec) -> None:
        self.hub = hub
        self.key = key
        self.stream = stream
        self.render_spec = render
        self.members: dict[Sink, _Member] = {}
        self.positions: dict[str, int] = {}
        self.state = stream.new_state()
        self.digest = cursor.digest(stream.channels)
        self.closed = False
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        built = EventScopedExecutor.build(
            render.schema,
            render.document,
            None,
            None,
            render.variables,
            render.operation_name,
        )
        if isinstance(built, list):
            raise StreamInterrupted(f"cannot execute the subscription: {built[0].message}")
        self._template = built

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"cryptoql-topic-{self.stream.kind}")

    async def wait_ready(self) -> None:
        await asyncio.shield(self._ready)

    async def stop(self) -> None:
        self.closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self._ready.done():
            self._ready.set_exception(StreamInterrupted("the stream was stopped"))
            self._ready.exception()

    def _fail_all(self, error: CryptoQLError) -> None:
        self.closed = True
        self.hub.stats.interrupted += len(self.members)
        formatted = dict(error.formatted)
        members, self.members = list(self.members.values()), {}
        for m in members:
            self.hub.forget(m.sink)
            m.sink.fail(formatted)
        self.hub.drop_topic(self)

    async def _run(self) -> None:
        broker = self.hub.broker
        backoff = 0.1
        first = True
        while True:
            try:
                async with broker.subscribe(*self.stream.channels) as events:
                    if first:
                        await self._init()
                        first = False
                        self._ready.set_result(None)
                    else:
                        self.hub.stats.catch_ups += 1
                        await self._catch_up()
                    backoff = 0.1
                    async for event in events:
                        await self._apply(event)
                        # Let the socket writers run between events: a burst must not
                        # starve them (queue-policy subscribers would drop frames).
                        await asyncio.sleep(0)
                self._fail_all(StreamInterrupted("the live feed stopped"))
                return
            except SubscriptionLagged:
                log.warning("topic %s lagged behind the broker; refilling", self.stream.kind)
            except ReplayWindowExceeded:
                self._fail_all(
                    StreamInterrupted("events were lost and are older than the replay window")
                )
                return
            except BrokerUnavailable as exc:
                if first:
                    self._ready.set_exception(StreamInterrupted(f"the live feed is down: {exc}"))
                    self._ready.exception()
                    self.closed = True
                    self.hub.drop_topic(self)
                    return
                log.warning("topic %s: broker unavailable, retrying: %s", self.stream.kind, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("topic %s failed", self.stream.kind)
                if not self._ready.done():
                    self._ready.set_exception(StreamInterrupted("the stream failed to start"))
                    self._ready.exception()
                self._fail_all(StreamInterrupted("the stream failed"))
                return

    # --- state ----------------------------------------------------------------
    async def _init(self) -> None:
        broker = self.hub.broker
        for ch in self.stream.channels:
            self.positions[ch] = await broker.last_seq(ch)
        if self.stream.needs_history:
            history = await window(
                broker, self.stream.channels, self.positions, since=None, history=True
            )
            for event in history:
                self.stream.absorb(self.state, event)

    async def _catch_up(self) -> None:
        broker = self.hub.broker
        missed: list[Event] = []
        for ch in self.stream.channels:
            missed.extend(await broker.replay(ch, self.positions.get(ch, 0)))
        for event in sorted(missed, key=order):
            await self._apply(event)

    async def _apply(self, event: Event) -> None:
        pos = self.positions.get(event.channel, 0)
        if event.seq <= pos:
            return
        if event.seq > pos + 1:
            # Never expected (brokers report lag), but never silently skip either.
            for missed in await self.hub.broker.replay(event.channel, pos):
                await self._apply(missed)
            return
        self.positions[event.channel] = event.seq
        self.hub.stats.events += 1
        emitted = self.stream.fold(self.state, event)
        if emitted is not None and self.members:
            meta = self._meta(event, self.positions)
            payload = await self.render(emitted.record, meta)
            for member in list(self.members.values()):
                self.hub.deliver(member, payload, event.channel, event.seq, emitted.key)
        self._progress.set()

    def _meta(self, event: Event, positions: dict[str, int]) -> EventMeta:
        cur = cursor.encode(self.hub.broker.epoch, self.stream.channels, positions, self.digest)
        return EventMeta(channel=event.channel, seq=event.seq, ts=event.ts, cursor=cur)

    async def render(self, record: Any, meta: EventMeta) -> str:
        spec = self.render_spec
        started = time.perf_counter()
        executor = self._template.build_per_event_executor(spec.wrap(record, meta))
        executor.context_value = spec.context_factory()
        result = execute_subscription_event(executor)
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        stats = self.hub.stats
        stats.renders += 1
        stats.render_seconds += time.perf_counter() - started
        if result.errors:
            stats.render_errors += 1
        return serialize(result)

    # --- members ----------------------------------------------------------------
    def add(self, sink: Sink) -> None:
        self.members[sink] = _Member(sink)

    def remove(self, sink: Sink) -> bool:
        """Remove ``sink``; returns whether the topic is now empty."""
        self.members.pop(sink, None)
        return not self.members

    async def resume(self, sink: Sink, after: str) -> None:
        """Join at ``after``: replay the retained events since, then continue live."""
        broker = self.hub.broker
        channels = self.stream.channels
        start = cursor.decode(after, broker.epoch, channels)
        for ch in channels:
            if start[ch] > await broker.last_seq(ch):
                raise ReplayUnavailable(
                    "This cursor is ahead of the stream (another numbering epoch); "
                    "refetch the current state and subscribe without `after`",
                    oldest=None,
                )
        await self._wait_positions(start)
        member = _Member(sink, buffer=[])
        self.members[sink] = member
        snapshot = dict(self.positions)  # no await since the member joined
        try:
            events = await self._replay_events(start, snapshot)
            positions = dict(start)
            state = self.stream.new_state()
            for event in events:
                if event.seq <= start[event.channel]:
                    self.stream.absorb(state, event)  # history: rebuilds the state only
                    continue
                emitted = self.stream.fold(state, event)
                positions[event.channel] = event.seq
                if emitted is not None:
                    payload = await self.render(emitted.record, self._meta(event, positions))
                    sink.deliver(payload, None, True)
        except BaseException:
            self.members.pop(sink, None)
            raise
        buffered, member.buffer = member.buffer or [], None
        for payload, ch, seq, key in buffered:
            self.hub.deliver(member, payload, ch, seq, key)

    async def _wait_positions(self, start: dict[str, int]) -> None:
        """Let the topic catch up with a cursor issued by a process that was ahead of it."""
        deadline = time.monotonic() + RESUME_WAIT_SECONDS
        while any(self.positions.get(ch, 0) < seq for ch, seq in start.items()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise StreamInterrupted("the stream is behind this cursor; try again")
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._progress.wait()

    async def _replay_events(self, start: dict[str, int], upto: dict[str, int]) -> list[Event]:
        try:
            return await window(
                self.hub.broker,
                self.stream.channels,
                upto,
                since=start,
                history=self.stream.needs_history,
            )
        except ReplayWindowExceeded as exc:
            raise ReplayUnavailable(
                "`after` is older than the replay window: refetch the current state "
                "with a query and subscribe without `after`",
                oldest={exc.channel: exc.oldest},
            ) from None


class TopicHub:
    """The process-wide registry of topics (``services["topics"]``)."""

    def __init__(self, broker: Broker, *, meter: Meter | None = None) -> None:
        self.broker = broker
        self.meter = meter
        self.topics: dict[Hashable, Topic] = {}
        self._topic_of: dict[Sink, Topic] = {}
        self._known: dict[tuple[str, str], tuple[float, Any]] = {}
        self.stats = HubStats()

    # --- admission cache --------------------------------------------------------------
    def known(self, kind: str, key: str) -> Any:
        """A recently confirmed id (asset, chain) and its value, or ``None``.

        Subscribing validates its ids against the database; thousands of
        clients reconnecting after a deploy would otherwise each cost a query.
        Only ids that exist are remembered (``KNOWN_TTL_SECONDS``): a
        mistyped id is checked every time, a new asset is found at once.
        """
        hit = self._known.get((kind, key))
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._known[(kind, key)]
            return None
        return hit[1]

    def remember(self, kind: str, key: str, value: Any = True) -> None:
        if len(self._known) >= KNOWN_MAX:
            self._known.clear()
        self._known[(kind, key)] = (time.monotonic() + KNOWN_TTL_SECONDS, value)

    async def attach(
        self, sink: Sink, stream: Stream, render: RenderSpec, after: str | None = None
    ) -> None:
        key = (stream.key, render.selection_key)
        topic = self.topics.get(key)
        if topic is None or topic.closed:
            topic = Topic(self, key, stream, render)
            self.topics[key] = topic
            topic.start()
        self._topic_of[sink] = topic
        try:
            await topic.wait_ready()
            if after is None:
                topic.add(sink)
            else:
                await topic.resume(sink, after)
        except BaseException:
            self.detach(sink)
            raise

    def detach(self, sink: Sink) -> None:
        topic = self._topic_of.pop(sink, None)
        if topic is not None and topic.remove(sink):
            self.drop_topic(topic)
            task = asyncio.ensure_future(topic.stop())
            task.add_done_callback(_retrieve)

    def is_attached(self, sink: Sink) -> bool:
        return sink in self._topic_of

    def forget(self, sink: Sink) -> None:
        self._topic_of.pop(sink, None)

    def drop_topic(self, topic: Topic) -> None:
        if self.topics.get(topic.key) is topic:
            del self.topics[topic.key]

    def deliver(
        self, member: _Member, payload: str, channel: str, seq: int, key: Hashable | None
    ) -> None:
        if member.buffer is not None:
            if len(member.buffer) >= RESUME_BUFFER_LIMIT:
                member.buffer = None
                self.detach(member.sink)
                member.sink.fail(dict(StreamInterrupted("fell behind while resuming").formatted))
                return
            member.buffer.append((payload, channel, seq, key))
            return
        sink = member.sink
        meter = self.meter
        if meter is not None and sink.event_cost > 0:
            if not meter.allow(sink.budget_key):
                self.stats.throttled += 1
                return
            meter.add(sink.budget_key, sink.tier, sink.event_cost)
        self.stats.deliveries += 1
        sink.deliver(payload, key, False)

    def subscriber_count(self) -> int:
        return sum(len(t.members) for t in self.topics.values())

    async def aclose(self) -> None:
        topics, self.topics = list(self.topics.values()), {}
        for topic in topics:
            await topic.stop()


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
