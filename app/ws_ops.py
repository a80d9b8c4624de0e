"""Per-subscription delivery queues, close codes, per-key caps and WebSocket metrics.

Queue policy (each subscription on a socket has its own bounded queue):

* **conflate** (``prices``, ``candles``, ``signals``): one pending frame per
  key (asset, candle, signal kind); a newer frame replaces the unsent one, so
  a slow reader gets the latest values and never a backlog. Replaced frames
  are counted as *conflated*;
* **queue** (``blocks``, and every replayed frame): a FIFO of at most
  ``ws_send_queue_size`` frames; when full the oldest is dropped and counted,
  and after ``ws_drop_close_threshold`` drops the socket is closed with
  **4013** (slow consumer): the client reconnects and resumes with ``after``.

Independently of the policy, a socket whose pending write has not completed
for ``ws_slow_close_seconds`` (the client stopped reading and the kernel and
transport buffers are full) is closed with 4013, so a stalled client never
holds more than one frame per key plus the transport's high-water mark.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from app.ws import Connection


class Close:
    """Close codes (graphql-transport-ws codes plus ours in 4000–4099; docs/subscriptions.md)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    BAD_REQUEST = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    SUBPROTOCOL = 4406
    INIT_TIMEOUT = 4408
    DUPLICATE_ID = 4409
    TOO_MANY_INIT = 4429
    INTERNAL = 4500
    IDLE = 4008
    MAX_AGE = 4012
    SLOW_CONSUMER = 4013


@dataclass
class LiveStats:
    """Counters for ``/metrics`` (exported by :class:`LiveCollector`)."""

    connections: int = 0
    connections_total: int = 0
    subscriptions: int = 0
    subscriptions_total: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    frames_conflated: int = 0
    closes: dict[int, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    def closed(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


class KeyCaps:
    """Per API key (or anonymous IP) counts of open sockets and active subscriptions.

    Counted per process: with N server processes a key may hold N times the
    cap (documented); the counts never leak because every acquire is paired
    with a release in the connection's ``finally``.
    """

    def __init__(self) -> None:
        self.connections: dict[str, int] = {}
        self.subscriptions: dict[str, int] = {}

    @staticmethod
    def _take(table: dict[str, int], key: str, cap: int) -> bool:
        n = table.get(key, 0)
        if n >= cap:
            return False
        table[key] = n + 1
        return True

    @staticmethod
    def _give(table: dict[str, int], key: str) -> None:
        n = table.get(key, 0) - 1
        if n > 0:
            table[key] = n
        else:
            table.pop(key, None)

    def take_connection(self, key: str, cap: int) -> bool:
        return self._take(self.connections, key, cap)

    def give_connection(self, key: str) -> None:
        self._give(self.connections, key)

    def take_subscription(self, key: str, cap: int) -> bool:
        return self._take(self.subscriptions, key, cap)

    def give_subscription(self, key: str) -> None:
        self._give(self.subscriptions, key)


class Operation:
    """One subscription on one socket: the topic's :class:`~resolvers.subscriptions.topics.Sink`."""

    __slots__ = (
        "budget_key",
        "conn",
        "done",
        "dropped",
        "event_cost",
        "id",
        "in_ready",
        "pending",
        "prefix",
        "queue",
        "raw_variables",
        "task",
        "tier",
    )

    def __init__(self, conn: Connection, op_id: str, raw_variables: dict[str, Any] | None) -> None:
        self.conn = conn
        self.id = op_id
        kind = "next" if conn.modern else "data"
        self.prefix = '{"type":"' + kind + '","id":' + orjson.dumps(op_id).decode() + ',"payload":'
        self.queue: deque[str] = deque()
        self.pending: OrderedDict[Hashable, str] = OrderedDict()
        self.in_ready = False
        self.dropped = 0
        self.done = False
        self.task: Any = None
        self.raw_variables = raw_variables
        principal = conn.principal
        self.budget_key = principal.budget_key if principal else ""
        self.tier = principal.tier if principal else "anonymous"
        self.event_cost = 0.0

    # --- Sink ---------------------------------------------------------------------
    def deliver(self, payload: str, key: Hashable | None, replay: bool) -> None:
        if self.done:
            return
        conn = self.conn
        if key is None or replay:
            if not replay and len(self.queue) >= conn.queue_size:
                self.queue.popleft()
                self.dropped += 1
                conn.stats.frames_dropped += 1
                if self.dropped >= conn.drop_close_threshold:
                    conn.close_slow()
                    return
            self.queue.append(payload)
        else:
            if key in self.pending:
                conn.stats.frames_conflated += 1
            self.pending[key] = payload
        conn.ready(self)

    def fail(self, error: dict[str, Any]) -> None:
        self.conn.fail_operation(self, error)

    # --- writer side ------------------------------------------------------------------
    def has_pending(self) -> bool:
        return bool(self.queue or self.pending)

    def next_frame(self) -> str | None:
        if self.queue:
            return self.prefix + self.queue.popleft() + "}"
        if self.pending:
            return self.prefix + self.pending.popitem(last=False)[1] + "}"
        return None

    def clear(self) -> None:
        self.queue.clear()
        self.pending.clear()


class LiveCollector(Collector):
    """Exports :class:`LiveStats` and the topic hub's figures on the app's registry."""

    def __init__(self, stats: LiveStats, hub_stats: Any) -> None:
        self.stats = stats
        self.hub_stats = hub_stats

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        yield GaugeMetricFamily(
            "cryptoql_ws_connections", "Open GraphQL WebSocket connections.", value=s.connections
        )
        yield GaugeMetricFamily(
            "cryptoql_ws_subscriptions",
            "Active subscriptions on WebSockets.",
            value=s.subscriptions,
        )
        for name, help_text, value in (
            (
                "cryptoql_ws_connections_opened",
                "WebSocket connections accepted.",
                s.connections_total,
            ),
            ("cryptoql_ws_subscriptions_started", "Subscriptions started.", s.subscriptions_total),
            ("cryptoql_ws_frames_sent", "Frames written to sockets.", s.frames_sent),
            ("cryptoql_ws_frames_dropped", "Frames dropped (queue policy).", s.frames_dropped),
            (
                "cryptoql_ws_frames_conflated",
                "Frames replaced by newer (conflate).",
                s.frames_conflated,
            ),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
        closes = CounterMetricFamily(
            "cryptoql_ws_closes", "Server-initiated closes by code.", labels=["code"]
        )
        for code, n in sorted(s.closes.items()):
            closes.add_metric([str(code)], n)
        yield closes
        refused = CounterMetricFamily(
            "cryptoql_ws_refused", "Refused connections/subscriptions by reason.", labels=["reason"]
        )
        for reason, n in sorted(s.refused.items()):
            refused.add_metric([reason], n)
        yield refused
        h = self.hub_stats()
        if h is not None:
            yield CounterMetricFamily(
                "cryptoql_live_events", "Broker events processed by topics.", value=h.events
            )
            yield CounterMetricFamily(
                "cryptoql_live_renders", "Event renders (one per topic per event).", value=h.renders
            )
            yield CounterMetricFamily(
                "cryptoql_live_render_seconds",
                "Time spent rendering events.",
                value=h.render_seconds,
            )
            yield CounterMetricFamily(
                "cryptoql_live_throttled",
                "Events skipped for an exhausted budget.",
                value=h.throttled,
            )
