"""A supervised WebSocket feed: connect, subscribe, read, and reconnect forever.

Every streaming adapter (Binance, Coinbase, Ethereum ``newHeads``) has the same
life cycle, so it lives here once and an adapter only says how to subscribe and
how to parse a frame:

1. connect (``open_timeout``), run the adapter's ``on_open`` (send subscriptions,
   await acks) and yield a :class:`Connected` event. Subscriptions die with
   the connection, so ``on_open`` runs again after *every* reconnect: that is the
   resubscribe, and for on-chain feeds the cue to backfill what was missed;
2. read frames, handing each to the adapter's ``parse``, which returns events
   to yield and may ask for a reconnect (Binance ``serverShutdown``, a Coinbase
   sequence problem) by raising :class:`ReconnectRequested`;
3. reconnect when the server closes, the transport fails, nothing arrived for
   ``idle_timeout`` seconds (a silent connection is a dead one: exchanges close
   idle channels, and half-open TCP never tells us), or the connection reached
   ``max_age`` (Binance cuts every connection at 24 h, so we leave first, at a
   moment of our choosing, instead of losing frames to their cut);
4. between attempts wait a capped exponential backoff with full jitter
   (``uniform(0, min(cap, base·2ⁿ))``); the attempt counter resets once a
   connection has delivered data, so a flapping upstream cannot make us hammer
   it, while one drop after hours of service reconnects at once. Planned
   reconnects (max age, ``serverShutdown``) skip the wait.

WebSocket ping frames are answered by the ``websockets`` library itself (it
replies to every ping with a pong carrying the same payload, on its own reader
task, whether or not we are consuming frames at that moment); our own pings
every ``ping_interval`` detect a dead peer.

Events are plain objects; :class:`Connected` and :class:`Disconnected` frame
each connection so a consumer can see the gaps. Counters in :attr:`stats`
(connections, reconnects, frames, parse errors) back health reporting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from sources.errors import SourceDecodeError, SourceError

log = logging.getLogger(__name__)

# Module-level reconnect constants (house rule 7); StreamPolicy defaults come from these.
OPEN_TIMEOUT_S = 10.0
PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 2.0
IDLE_TIMEOUT_S = 90.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
MAX_FRAME_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """Timeouts and reconnect pacing for one feed (seconds)."""

    open_timeout: float = OPEN_TIMEOUT_S
    ping_interval: float | None = PING_INTERVAL_S
    ping_timeout: float | None = PING_TIMEOUT_S
    close_timeout: float = CLOSE_TIMEOUT_S
    idle_timeout: float = IDLE_TIMEOUT_S
    max_age: float | None = None
    backoff_base: float = BACKOFF_BASE_S
    backoff_cap: float = BACKOFF_CAP_S
    max_frame_bytes: int = MAX_FRAME_BYTES

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2**attempt))


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection is open and its subscriptions are live (``number`` counts from 1)."""

    source: str
    number: int
    detail: Any = None


@dataclass(frozen=True, slots=True)
class Disconnected:
    """A connection ended; ``planned`` for max-age and server-shutdown reconnects."""

    source: str
    number: int
    reason: str
    planned: bool
    retry_in: float


class ReconnectRequested(Exception):
    """Raised by an adapter's ``parse``/``on_open`` to end the connection on purpose."""

    def __init__(self, reason: str, *, planned: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.planned = planned


@dataclass
class StreamStats:
    connections: int = 0
    reconnects: int = 0
    planned_reconnects: int = 0
    frames: int = 0
    parse_errors: int = 0
    last_frame_at: float | None = None
    last_error: str | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def bump(self, name: str, n: int = 1) -> None:
        self.extra[name] = self.extra.get(name, 0) + n


class Sender(Protocol):
    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


class WsFeed:
    """Base class of the streaming adapters; subclasses set ``source`` and override hooks."""

    source = "ws"

    def __init__(
        self,
        url: str,
        policy: StreamPolicy | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.url = url
        self.policy = policy or StreamPolicy()
        self.rng = rng or random.Random()
        self.stats = StreamStats()
        self._sleep = sleep
        self._ws: ClientConnection | None = None

    # -- hooks -------------------------------------------------------------

    def connect_url(self) -> str:
        """The URL of the next connection (Binance encodes its streams in it)."""
        return self.url

    async def on_open(self, ws: Sender) -> Any:
        """Subscribe on a fresh connection; the return value becomes ``Connected.detail``."""
        return None

    def parse(self, message: Any) -> Sequence[Any]:
        """Turn one decoded JSON frame into events (may raise ReconnectRequested)."""
        return ()

    # -- control -----------------------------------------------------------

    async def send_json(self, payload: Any) -> bool:
        """Send on the live connection; ``False`` when there is none (it resubscribes later)."""
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(payload, separators=(",", ":")))
        except ConnectionClosed:
            return False
        return True

    async def drop_connection(self) -> None:
        """Close the current connection (tests, operators); the loop reconnects."""
        if self._ws is not None:
            await self._ws.close()

    # -- the loop ----------------------------------------------------------

    async def events(self) -> AsyncGenerator[Any, None]:
        """Yield events forever, reconnecting as the module docstring describes.

        Consume it inside ``contextlib.aclosing`` (or cancel the task that
        iterates) so the live connection is closed when the consumer stops.
        """
        attempt = 0
        number = 0
        p = self.policy
        while True:
            number += 1
            got_data = False
            planned = False
            reason = "closed"
            try:
                async with connect(
                    self.connect_url(),
                    open_timeout=p.open_timeout,
                    ping_interval=p.ping_interval,
                    ping_timeout=p.ping_timeout,
                    close_timeout=p.close_timeout,
                    max_size=p.max_frame_bytes,
                ) as ws:
                    self._ws = ws
                    detail = await asyncio.wait_for(self.on_open(ws), p.open_timeout)
                    self.stats.connections += 1
                    yield Connected(self.source, number, detail)
                    opened = time.monotonic()
                    while True:
                        message = await self._recv(ws, opened)
                        got_data = True
                        for event in self._parse_frame(message):
                            yield event
            except ReconnectRequested as exc:
                reason, planned = exc.reason, exc.planned
            except ConnectionClosed as exc:
                reason = f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except SourceError as exc:
                reason = f"{exc.code}: {exc.message}"
            finally:
                self._ws = None
            self.stats.last_error = None if planned else reason
            if got_data:
                attempt = 0
            delay = 0.0 if planned else p.backoff(attempt, self.rng)
            attempt = 0 if planned else attempt + 1
            self.stats.reconnects += 1
            self.stats.planned_reconnects += int(planned)
            log.log(
                logging.INFO if planned else logging.WARNING,
                "%s stream: %s; reconnecting in %.2fs",
                self.source,
                reason,
                delay,
            )
            yield Disconnected(self.source, number, reason, planned, delay)
            if delay:
                await self._sleep(delay)

    async def _recv(self, ws: ClientConnection, opened: float) -> str | bytes:
        timeout = self.policy.idle_timeout
        age_left = None
        if self.policy.max_age is not None:
            age_left = self.policy.max_age - (time.monotonic() - opened)
            if age_left <= 0:
                raise ReconnectRequested("max connection age reached")
        wait = timeout if age_left is None else min(timeout, age_left)
        try:
            async with asyncio.timeout(wait):
                return await ws.recv()
        except TimeoutError:
            if age_left is not None and age_left <= timeout:
                raise ReconnectRequested("max connection age reached") from None
            raise ReconnectRequested(
                f"no frame for {timeout:.0f}s (idle connection)", planned=False
            ) from None

    def _parse_frame(self, raw: str | bytes) -> Sequence[Any]:
        self.stats.frames += 1
        self.stats.last_frame_at = time.monotonic()
        try:
            message = json.loads(raw)
            return self.parse(message)
        except ReconnectRequested:
            raise
        except (ValueError, SourceDecodeError, KeyError, TypeError) as exc:
            # One bad frame is quarantined, not a reason to drop a healthy feed.
            self.stats.parse_errors += 1
            log.warning("%s stream: bad frame skipped (%s): %.200r", self.source, exc, raw)
            return ()


__all__ = [
    "Connected",
    "Disconnected",
    "ReconnectRequested",
    "StreamPolicy",
    "StreamStats",
    "WsFeed",
]
