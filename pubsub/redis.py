"""The Redis broker: several server processes (and machines) deliver the same stream.

Layout per channel ``ch`` (every name prefixed by ``namespace``):

* ``{ch}#seq`` — an INCR counter: the channel's sequence number;
* ``{ch}#log`` — a stream capped at ``replay_window`` entries, entry id
  ``<seq>-0``, so a replay is one ``XRANGE`` by sequence number;
* ``{ch}`` — the pub/sub channel.

One Lua script increments, appends and publishes atomically, so the stream and
the pub/sub feed never disagree on numbering. The wire envelope is
``b"<seq> <epoch> <ts_us> <json>"``; the epoch (a random id stored once in
Redis) changes only when Redis loses its data, which makes stale cursors
recognisable.

One pub/sub connection per process feeds the in-process :class:`Fanout`. It is
*supervised*: on any error the listener reconnects with capped, jittered
backoff, resubscribes every wanted channel and then fills the gap from the
stream (``XRANGE`` from the last sequence it delivered), so local subscribers
see every event exactly once across Redis blips. A sequence jump on the live
feed triggers the same fill. When a gap is older than the window the local
subscribers of that channel are failed with :class:`SubscriptionLagged`.
Channels nobody listens to any more are unsubscribed lazily by the listener
(after ``idle_unsubscribe_seconds``), which keeps connect/close churn off Redis
and makes the subscribe/unsubscribe ordering race-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from pubsub.broker import BrokerUnavailable, Event, Message
from pubsub.encoding import dumps
from pubsub.fanout import Fanout
from pubsub.memory import DEFAULT_QUEUE_SIZE, DEFAULT_REPLAY_WINDOW, check_replay

log = logging.getLogger("cryptoql.pubsub.redis")

EPOCH_KEY = "cryptoql:epoch"
SUBSCRIBE_TIMEOUT = 5.0
START_WAIT_SECONDS = 3.0
DOWN_WAIT_SECONDS = 1.0
RECONNECT_BACKOFF_MIN = 0.05
RECONNECT_BACKOFF_MAX = 5.0

_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[4], epoch)
end
local env = seq .. ' ' .. epoch .. ' ' .. ARGV[1] .. ' ' .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], seq .. '-0', 'e', env)
redis.call('PUBLISH', KEYS[3], env)
return seq
"""


def _decode(channel: str, envelope: bytes) -> tuple[str, Event]:
    seq_b, epoch_b, ts_b, body = envelope.split(b" ", 3)
    ts = datetime.fromtimestamp(int(ts_b) / 1_000_000, UTC)
    data: Message = orjson.loads(body)
    return epoch_b.decode(), Event(channel=channel, seq=int(seq_b), ts=ts, data=data)


def _consume_error(task: asyncio.Future[Any]) -> None:
    """A failed lazy unsubscribe is harmless (the reconnect drops it); don't log it as lost."""
    if not task.cancelled():
        task.exception()


def _entries(raw: Any) -> list[tuple[int, bytes]]:
    """``XRANGE`` reply -> ``[(seq, envelope)]`` (ids are ``<seq>-0`` by construction)."""
    return [(int(bytes(eid).split(b"-")[0]), bytes(fields[b"e"])) for eid, fields in raw or ()]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBroker:
    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        namespace: str = "",
        keepalive_seconds: float = 5.0,
        idle_unsubscribe_seconds: float = 30.0,
    ) -> None:
        if replay_window < 1:
            raise ValueError("replay_window must be >= 1")
        self.replay_window = replay_window
        self.namespace = namespace
        self.keepalive_seconds = keepalive_seconds
        self.idle_unsubscribe_seconds = idle_unsubscribe_seconds
        self.epoch = ""
        self._fanout = Fanout(queue_size)
        # Retries off: a re-sent publish would duplicate an event under a new seq,
        # and the listener must see connection errors to resubscribe and fill gaps.
        # Unique per broker, so an operator (or a test) can find this process's connections.
        self.client_name = f"cryptoql-{secrets.token_hex(3)}:" + "".join(
            c for c in namespace if c.isprintable() and c != " "
        )
        self._redis: Redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=5,
            socket_connect_timeout=3,
            client_name=self.client_name,
        )
        self._script = self._redis.register_script(_PUBLISH)
        self._wanted: dict[str, asyncio.Future[None]] = {}  # channel -> first confirmation
        self._idle_since: dict[str, float] = {}  # wanted channels with no local subscriber
        self._last: dict[str, int] = {}  # channel -> last seq delivered locally
        self._ps: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._ready = asyncio.Event()
        self._up = asyncio.Event()
        self.connected = False
        self.reconnects = 0
        self.gap_fills = 0
        self.published = 0
        self.last_error = ""

    # --- names ------------------------------------------------------------
    def _name(self, channel: str) -> str:
        return self.namespace + channel

    def _keys(self, channel: str) -> list[str]:
        n = self._name(channel)
        return [f"{n}#seq", f"{n}#log", n, self.namespace + EPOCH_KEY]

    # --- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        """Start the supervised listener; does not fail when Redis is down (health shows it)."""
        self._task = asyncio.create_task(self._supervise(), name="cryptoql-redis-listener")
        # Give the first connection a moment so a healthy start is ready at once.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT_SECONDS):
                await self._ready.wait()

    async def aclose(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_pubsub()
        await self._redis.aclose()

    async def _refresh_epoch(self) -> None:
        key = self.namespace + EPOCH_KEY
        await self._redis.set(key, secrets.token_hex(4), nx=True)
        value = await self._redis.get(key)
        if value is not None:
            self.epoch = _text(value)

    # --- publishing ---------------------------------------------------------
    async def publish(self, channel: str, message: Message) -> int:
        body = dumps(message)
        ts_us = time.time_ns() // 1000
        try:
            seq = await self._script(
                keys=self._keys(channel),
                args=[ts_us, body, secrets.token_hex(4), self.replay_window],
            )
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"publish to {channel} failed: {exc}") from exc
        self.published += 1
        return int(seq)

    # --- reading ------------------------------------------------------------
    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Event]]:
        try:
            async with self._fanout.subscribe(*channels) as sub:
                await self._ensure(sub.channels)
                yield sub
        finally:
            now = time.monotonic()
            live = set(self._fanout.channels())
            for ch in channels:
                if ch in self._wanted and ch not in live:
                    self._idle_since[ch] = now

    async def _ensure(self, channels: tuple[str, ...]) -> None:
        """Make sure Redis delivers ``channels`` to this process before returning."""
        if not self.connected:
            # Give a reconnect in progress a moment, then say so plainly.
            try:
                async with asyncio.timeout(DOWN_WAIT_SECONDS):
                    await self._up.wait()
            except TimeoutError:
                raise BrokerUnavailable(f"Redis is unreachable: {self.last_error}") from None
        new: list[str] = []
        waits: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for ch in channels:
            self._idle_since.pop(ch, None)
            fut = self._wanted.get(ch)
            if fut is None:
                fut = self._wanted[ch] = loop.create_future()
                new.append(ch)
            if not fut.done():
                waits.append(fut)
        if new and self._ps is not None and self.connected:
            with contextlib.suppress(RedisError, OSError):
                await self._ps.subscribe(*(self._name(ch) for ch in new))
        if waits:
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                    await asyncio.gather(*(asyncio.shield(f) for f in waits))
            except TimeoutError as exc:
                raise BrokerUnavailable(f"Redis did not confirm {channels}") from exc
        for ch in new:
            # Everything after this point is delivered by the listener (or the
            # reconnect fill); what came before is the subscriber's replay.
            try:
                floor = await self.last_seq(ch)
            except BrokerUnavailable:
                continue
            self._last[ch] = max(self._last.get(ch, 0), floor)

    async def replay(self, channel: str, after: int) -> list[Event]:
        seq_key, log_key = self._keys(channel)[:2]
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(seq_key)
                pipe.xrange(log_key, "-", "+", count=1)
                pipe.xrange(log_key, f"{after + 1}-0", "+")
                last_b, first, entries = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"replay of {channel} failed: {exc}") from exc
        last = int(last_b or 0)
        head = _entries(first)
        oldest = head[0][0] if head else None
        check_replay(channel, after, last, oldest)
        return [_decode(channel, env)[1] for _seq, env in _entries(entries)]

    async def last_seq(self, channel: str) -> int:
        try:
            value = await self._redis.get(self._keys(channel)[0])
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(f"last_seq of {channel} failed: {exc}") from exc
        return int(value or 0)

    def health(self) -> dict[str, Any]:
        return {
            "ok": self.connected,
            "backend": self.backend,
            "epoch": self.epoch,
            "channels": len(self._wanted),
            "local_subscribers": self._fanout.subscriber_count(),
            "reconnects": self.reconnects,
            "gap_fills": self.gap_fills,
            "published": self.published,
            "last_error": self.last_error,
        }

    # --- the supervised listener ------------------------------------------------
    async def _supervise(self) -> None:
        backoff = RECONNECT_BACKOFF_MIN
        first = True
        while not self._closing:
            try:
                await self._connect()
                if not first:
                    self.reconnects += 1
                    log.warning("redis listener reconnected", extra={"channels": len(self._wanted)})
                first = False
                backoff = RECONNECT_BACKOFF_MIN
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ConnectionError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self.connected:
                    log.warning("redis listener lost its connection: %s", self.last_error)
            finally:
                self.connected = False
                self._up.clear()
                await self._drop_pubsub()
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)

    async def _drop_pubsub(self) -> None:
        ps, self._ps = self._ps, None
        if ps is not None:
            with contextlib.suppress(RedisError, OSError):
                await ps.aclose()  # type: ignore[no-untyped-call]

    async def _connect(self) -> None:
        ps = self._redis.pubsub()
        self._ps = ps
        # A control channel keeps the connection in subscribed mode even when no
        # data channel is wanted, so pings and errors surface the same way.
        names = {self._name("cryptoql:control"), *map(self._name, self._wanted)}
        await ps.subscribe(*names)
        await self._refresh_epoch()
        # Wait until Redis confirms every channel before filling gaps from the
        # streams, or events published in between would be neither live nor filled.
        # Channels wanted meanwhile (``_ensure`` skips Redis while we connect) are
        # subscribed here too; ``connected`` flips with no await after the last check.
        pending = set(names)
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
            while True:
                extra = {self._name(ch) for ch in self._wanted} - names
                if extra:
                    names |= extra
                    pending |= extra
                    await ps.subscribe(*extra)
                    continue
                if not pending:
                    break
                msg = await ps.get_message(timeout=SUBSCRIBE_TIMEOUT)
                if msg is None:
                    continue
                if msg["type"] == "subscribe":
                    pending.discard(_text(msg["channel"]))
                await self._handle(msg)
        self.connected = True
        self._ready.set()
        self._up.set()
        self.last_error = ""

    async def _listen(self) -> None:
        ps = self._ps
        assert ps is not None
        # The fill after a (re)connect: anything published while we were away.
        for ch in list(self._last):
            await self._fill(ch, upto=None)
        last_pong = last_ping = time.monotonic()
        while not self._closing:
            msg = await ps.get_message(timeout=self.keepalive_seconds)
            now = time.monotonic()
            if msg is not None:
                await self._handle(msg)
            if msg is not None and msg["type"] == "pong":
                last_pong = now
            if now - last_ping >= self.keepalive_seconds:
                await ps.ping()
                last_ping = now
                self._sweep_idle(ps, now)
            if now - last_pong > 3 * self.keepalive_seconds + 1:
                raise TimeoutError("no pong from Redis")

    def _sweep_idle(self, ps: PubSub, now: float) -> None:
        stale = [
            ch
            for ch, since in self._idle_since.items()
            if now - since >= self.idle_unsubscribe_seconds
            and ch not in set(self._fanout.channels())
        ]
        for ch in stale:
            self._idle_since.pop(ch, None)
            self._wanted.pop(ch, None)
            self._last.pop(ch, None)
        if stale:
            task = asyncio.ensure_future(ps.unsubscribe(*map(self._name, stale)))
            task.add_done_callback(_consume_error)

    async def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind not in ("message", "subscribe"):
            return
        name = _text(msg["channel"])
        if not name.startswith(self.namespace):
            return
        channel = name[len(self.namespace) :]
        if kind == "subscribe":
            fut = self._wanted.get(channel)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        epoch, event = _decode(channel, msg["data"])
        self.epoch = epoch
        last = self._last.get(channel)
        if last is not None and event.seq <= last:
            return
        if last is not None and event.seq > last + 1:
            await self._fill(channel, upto=event.seq - 1)
        self._last[channel] = event.seq
        self._fanout.deliver(event)

    async def _fill(self, channel: str, upto: int | None) -> None:
        """Deliver events ``(last, upto]`` from the stream; fail subscribers if evicted."""
        last = self._last.get(channel, 0)
        end = f"{upto}-0" if upto is not None else "+"
        log_key = self._keys(channel)[1]
        entries = _entries(await self._redis.xrange(log_key, f"{last + 1}-0", end))
        if not entries and upto is None:
            return
        self.gap_fills += 1
        first_seq = entries[0][0] if entries else (upto or last) + 1
        if first_seq != last + 1:
            log.warning("gap on %s older than the replay window", channel)
            self._fanout.fail(channel)
        for _seq, envelope in entries:
            _epoch, event = _decode(channel, envelope)
            self._last[channel] = event.seq
            self._fanout.deliver(event)
        if upto is not None:
            self._last[channel] = max(self._last.get(channel, 0), upto)
