"""GraphQL over WebSocket: ``graphql-transport-ws`` and the legacy ``graphql-ws`` protocol.

Why not strawberry's own handlers: they execute every event once per
subscriber (and graphql-core 3.3.2 retains memory per event while doing so),
keep a task and an execution context per subscription, and have no bounded
per-subscriber queue. Here strawberry still *admits* each subscription —
``schema.subscribe`` runs parsing, validation, the scope rule, the cost
extension and our resolvers, exactly as for HTTP — but the resolver hands the
operation (an :class:`~app.ws_ops.Operation`, the topic's sink) to a shared
topic (``resolvers.subscriptions.topics``), so after admission an event costs
one render per topic and one socket write per subscriber.

Per connection there is the ASGI task (reading), one writer task, one timer
(keep-alive and deadlines) and a short task per ``subscribe`` while it is
admitted. Limits and close codes (docs/subscriptions.md):

* no ``connection_init`` within ``ws_init_timeout_seconds``: **4408**;
* refused API key (from the init payload ``apiKey``/``X-API-Key``/
  ``Authorization``, or the handshake headers), or too many sockets for the
  key: **4403**; a second init: **4429**; subscribe before the ack: **4401**;
  duplicate id: **4409**; malformed message: **4400**; no acceptable
  subprotocol: **4406**;
* keep-alive: ``ping`` (transport-ws) or ``ka`` (legacy) every
  ``ws_keepalive_seconds``; a transport-ws socket silent for
  ``ws_pong_timeout_seconds``, or any socket without a subscription for
  ``ws_idle_timeout_seconds``: **4008**;
* ``ws_max_connection_age_seconds``: **4012** (reconnect, resume with ``after``);
* slow consumer (see ``app.ws_ops``): **4013**;
* too many subscriptions (per socket or per key): an ``error`` for that
  operation with code ``SUBSCRIPTION_LIMIT``; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import replace
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.http.websocket_origin import is_same_origin, normalize_allowed_origins
from strawberry.schema.base import BaseSchema
from strawberry.types.graphql import OperationType

from app.auth import AuthError
from app.context import build_context
from app.http_json import decode_json
from app.settings import Settings
from app.ws_auth import authenticate_init, key_refusal
from app.ws_ops import Close, KeyCaps, LiveCollector, LiveStats, Operation
from resolvers.principal import Principal
from resolvers.subscriptions.errors import SubscriptionLimit
from resolvers.subscriptions.render import mask
from resolvers.subscriptions.topics import TopicHub

log = logging.getLogger("cryptoql.ws")

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
CLOSE_DEADLINE_SECONDS = 30.0
EVENT_COST_CACHE = 1024
#: how often an open socket re-checks its API key (revocation, expiry)
KEY_RECHECK_SECONDS = 30.0
#: Queries may run over the socket too (a client multiplexing everything); mutations use HTTP.
WS_OPERATIONS = (OperationType.QUERY, OperationType.SUBSCRIPTION)


class LiveSocketServer:
    """The ASGI WebSocket endpoint for ``/graphql`` (mounted in ``app.main``)."""

    def __init__(self, schema: BaseSchema, *, settings: Settings, registry: Any = None) -> None:
        self.schema = schema
        self.settings = settings
        self.allowed_origins = normalize_allowed_origins(settings.cors_origins)
        self.stats = LiveStats()
        self.caps = KeyCaps()
        self.connections: set[Connection] = set()
        self.event_costs: dict[tuple[str, str | None, bytes], float] = {}
        self._hub: TopicHub | None = None
        if registry is not None:
            registry.register(LiveCollector(self.stats, self._hub_stats))

    def _hub_stats(self) -> Any:
        return self._hub.stats if self._hub is not None else None

    def bind(self, services: dict[str, Any]) -> None:
        """Remember the lifespan's topic hub (for ``/metrics``)."""
        hub = services.get("topics")
        if isinstance(hub, TopicHub):
            self._hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        conn = Connection(self, scope, receive, send)
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)

    def origin_allowed(self, scope: Scope) -> bool:
        """Cross-site WebSocket hijacking guard (browsers send ``Origin``; others don't)."""
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is None:
            return True
        text = origin.decode("latin-1")
        if "*" in self.allowed_origins or text.lower() in self.allowed_origins:
            return True
        host = headers.get(b"host")
        return is_same_origin(text, host.decode("latin-1") if host else None)


class Connection:
    def __init__(
        self, server: LiveSocketServer, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.server = server
        self.scope = scope
        self.receive = receive
        self.send = send
        state = scope.get("state") or {}
        self.settings: Settings = state.get("settings") or server.settings
        self.services: dict[str, Any] = state.get("services") or {}
        s = self.settings
        self.queue_size = s.ws_send_queue_size
        self.drop_close_threshold = s.ws_drop_close_threshold
        self.stats = server.stats
        self.modern = True
        self.principal: Principal | None = None
        self.ops: dict[str, Operation] = {}
        self.init_received = False
        self.acked = False
        self.closing: tuple[int, str] | None = None
        self._ready: deque[Operation] = deque()
        self._control: deque[str] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._main: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._init_timer: asyncio.TimerHandle | None = None
        self._age_timer: asyncio.TimerHandle | None = None
        self._aborting = False
        self._counted_key: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.loop = asyncio.get_running_loop()
        self.last_received = self.loop.time()
        self.idle_since = self.loop.time()
        self.send_started: float | None = None
        self._key_checked = self.loop.time()

    # --- lifecycle ------------------------------------------------------------------
    async def serve(self) -> None:
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        if not self.server.origin_allowed(self.scope):
            self.stats.refuse("origin")
            await self.send({"type": "websocket.close", "code": 1008})
            return
        offered = self.scope.get("subprotocols") or []
        protocol = next((p for p in (TRANSPORT_WS, LEGACY_WS) if p in offered), None)
        if protocol is None:
            await self.send({"type": "websocket.accept"})
            self.stats.closed(Close.SUBPROTOCOL)
            await self.send(
                {
                    "type": "websocket.close",
                    "code": Close.SUBPROTOCOL,
                    "reason": "Subprotocol not acceptable",
                }
            )
            return
        self.modern = protocol == TRANSPORT_WS
        await self.send({"type": "websocket.accept", "subprotocol": protocol})
        self.stats.connections += 1
        self.stats.connections_total += 1
        self.server.bind(self.services)
        self._main = asyncio.current_task()
        s = self.settings
        self._init_timer = self.loop.call_later(s.ws_init_timeout_seconds, self._init_timeout)
        self._age_timer = self.loop.call_later(
            s.ws_max_connection_age_seconds,
            self.close,
            Close.MAX_AGE,
            "Connection max age reached: reconnect and resume with `after`",
        )
        self._timer = self.loop.call_later(s.ws_keepalive_seconds, self._tick)
        self._writer = asyncio.create_task(self._write_loop(), name="cryptoql-ws-writer")
        try:
            while True:
                message = await self.receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind != "websocket.receive" or self.closing:
                    continue
                self.last_received = self.loop.time()
                text = message.get("text")
                if text is None:
                    data = message.get("bytes") or b""
                    try:
                        text = data.decode()
                    except UnicodeDecodeError:
                        self.close(Close.BAD_REQUEST, "WebSocket message must be valid JSON")
                        continue
                self._on_text(text)
        except asyncio.CancelledError:
            if not self._aborting:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            await self._cleanup()

    async def _cleanup(self) -> None:
        for handle in (self._timer, self._init_timer, self._age_timer):
            if handle is not None:
                handle.cancel()
        for op in list(self.ops.values()):
            self._finish(op)
        pending = [t for t in self._tasks if not t.done()]
        if self._writer is not None:
            pending.append(self._writer)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._counted_key is not None:
            self.server.caps.give_connection(self._counted_key)
            self._counted_key = None
        self.stats.connections -= 1

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close with ``code`` now: drop queued frames, stop subscriptions, send the close.

        ``flush`` first sends the queued control messages (a legacy
        ``connection_error`` that explains the close).
        """
        if self.closing is not None:
            return
        self.closing = (code, reason)
        last_words = list(self._control) if flush else []
        self.stats.closed(code)
        for handle in (self._timer, self._init_timer, self._age_timer):
            if handle is not None:
                handle.cancel()
        for op in list(self.ops.values()):
            self._finish(op)
        self._control.clear()
        self._ready.clear()
        if self._writer is not None:
            self._writer.cancel()
        self._spawn(self._send_close(code, reason, last_words))

    def close_slow(self) -> None:
        self.close(Close.SLOW_CONSUMER, "Slow consumer: reconnect and resume with `after`")

    async def _send_close(self, code: int, reason: str, last_words: list[str]) -> None:
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        try:
            async with asyncio.timeout(CLOSE_DEADLINE_SECONDS):
                for text in last_words:
                    await self.send({"type": "websocket.send", "text": text})
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
            return
        except (TimeoutError, OSError, RuntimeError):
            pass
        except Exception:  # the peer is gone (uvicorn's ClientDisconnected)
            log.debug("close of a dead socket failed", exc_info=True)
        # The peer never read the close frame: stop serving it (uvicorn drops the transport).
        if self._main is not None and not self._main.done():
            self._aborting = True
            self._main.cancel()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- timers -------------------------------------------------------------------------
    def _init_timeout(self) -> None:
        if not self.acked:
            self.close(Close.INIT_TIMEOUT, "Connection initialisation timeout")

    def _tick(self) -> None:
        """Keep-alive and deadlines, every ``ws_keepalive_seconds``."""
        if self.closing is not None:
            return
        s = self.settings
        now = self.loop.time()
        if self.send_started is not None and now - self.send_started > s.ws_slow_close_seconds:
            self.close_slow()
            return
        if self.modern and self.acked and now - self.last_received > s.ws_pong_timeout_seconds:
            self.close(Close.IDLE, "Keep-alive timeout: no pong")
            return
        if self.acked and not self.ops and now - self.idle_since > s.ws_idle_timeout_seconds:
            self.close(Close.IDLE, "Idle timeout: no active subscription")
            return
        if self.acked:
            self.control('{"type":"ping"}' if self.modern else '{"type":"ka"}')
            if now - self._key_checked >= KEY_RECHECK_SECONDS and self.principal is not None:
                self._key_checked = now
                self._spawn(self._recheck_key(self.principal))
        self._timer = self.loop.call_later(s.ws_keepalive_seconds, self._tick)

    async def _recheck_key(self, principal: Principal) -> None:
        """A socket outlives its authentication: notice a revoked or expired key (4403)."""
        reason = await key_refusal(self.services, principal)
        if reason is not None:
            self.close(Close.FORBIDDEN, reason)

    # --- writing ------------------------------------------------------------------------
    def control(self, text: str) -> None:
        if self.closing is None:
            self._control.append(text)
            self._wakeup()

    def message(self, payload: dict[str, Any]) -> None:
        self.control(orjson.dumps(payload).decode())

    def ready(self, op: Operation) -> None:
        if not op.in_ready:
            op.in_ready = True
            self._ready.append(op)
            self._wakeup()

    def _wakeup(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _write_loop(self) -> None:
        send = self.send
        stats = self.stats
        while True:
            if not self._control and not self._ready:
                self._wake = self.loop.create_future()
                await self._wake
                self._wake = None
            while self._control or self._ready:
                if self._control:
                    text = self._control.popleft()
                else:
                    op = self._ready.popleft()
                    frame = op.next_frame()
                    if op.has_pending():
                        self._ready.append(op)  # round robin across subscriptions
                    else:
                        op.in_ready = False
                    if frame is None:
                        continue
                    text = frame
                self.send_started = self.loop.time()
                try:
                    await send({"type": "websocket.send", "text": text})
                except (OSError, RuntimeError):
                    # The peer is gone (uvicorn's ClientDisconnected is an OSError); the
                    # reading side sees the disconnect and cleans up.
                    return
                self.send_started = None
                stats.frames_sent += 1

    # --- protocol -------------------------------------------------------------------------
    def _on_text(self, text: str) -> None:
        try:
            msg = decode_json(text, max_depth=self.settings.max_json_depth)
        except (json.JSONDecodeError, ValueError, RecursionError):
            self.close(Close.BAD_REQUEST, "WebSocket message must be valid JSON")
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self.close(Close.BAD_REQUEST, "Invalid message: an object with a `type` is required")
            return
        kind = msg["type"]
        if kind == "connection_init":
            self._on_init(msg.get("payload"))
        elif self.modern:
            self._on_modern(kind, msg)
        else:
            self._on_legacy(kind, msg)

    def _on_modern(self, kind: str, msg: dict[str, Any]) -> None:
        if kind == "ping":
            self.message(
                {"type": "pong", **({"payload": msg["payload"]} if "payload" in msg else {})}
            )
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            op_id, payload = msg.get("id"), msg.get("payload")
            if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
                self.close(Close.BAD_REQUEST, "Invalid subscribe message")
            elif not self.acked:
                self.close(Close.UNAUTHORIZED, "Unauthorized")
            elif op_id in self.ops:
                self.close(Close.DUPLICATE_ID, f"Subscriber for {op_id} already exists"[:120])
            else:
                self._subscribe(op_id, payload)
        elif kind == "complete":
            op = self.ops.get(str(msg.get("id")))
            if op is not None:
                self._finish(op)
        else:
            self.close(Close.BAD_REQUEST, f"Unknown message type {kind!r}"[:120])

    def _on_legacy(self, kind: str, msg: dict[str, Any]) -> None:
        if kind == "start":
            op_id, payload = msg.get("id"), msg.get("payload")
            if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
                self.close(Close.BAD_REQUEST, "Invalid start message")
            elif not self.acked:
                self.close(Close.UNAUTHORIZED, "Unauthorized")
            else:
                old = self.ops.get(op_id)
                if old is not None:  # the legacy protocol replaces an operation with the same id
                    self._finish(old)
                self._subscribe(op_id, payload)
        elif kind == "stop":
            op = self.ops.get(str(msg.get("id")))
            if op is not None:
                self._finish(op)
                self.message({"type": "complete", "id": op.id})
        elif kind == "connection_terminate":
            self.close(Close.NORMAL, "Terminated by the client")
        else:
            self.close(Close.BAD_REQUEST, f"Unknown message type {kind!r}"[:120])

    # --- connection_init ---------------------------------------------------------------------
    def _on_init(self, payload: Any) -> None:
        if self.init_received:
            self.close(Close.TOO_MANY_INIT, "Too many initialisation requests")
            return
        self.init_received = True
        if payload is not None and not isinstance(payload, dict):
            self.close(Close.BAD_REQUEST, "connection_init payload must be an object")
            return
        self._spawn(self._init(payload or {}))

    async def _init(self, payload: dict[str, Any]) -> None:
        try:
            principal = await self._authenticate(payload)
        except AuthError as exc:
            self.stats.refuse(exc.code.lower())
            if not self.modern:
                self.message(
                    {
                        "type": "connection_error",
                        "payload": {"message": exc.message, "extensions": {"code": exc.code}},
                    }
                )
            self.close(Close.FORBIDDEN, exc.message[:120], flush=True)
            return
        if self.closing is not None:
            return
        key = principal.budget_key
        if not self.server.caps.take_connection(key, self.settings.ws_max_connections_per_key):
            self.stats.refuse("connection_limit")
            self.close(Close.FORBIDDEN, "Too many connections for this API key")
            return
        self._counted_key = key
        self.principal = principal
        WebSocket(self.scope, self.receive, self.send).state.principal = principal
        if self._init_timer is not None:
            self._init_timer.cancel()
        self.acked = True
        self.idle_since = self.loop.time()
        self.message({"type": "connection_ack"})
        if not self.modern:
            self.control('{"type":"ka"}')

    async def _authenticate(self, payload: dict[str, Any]) -> Principal:
        return await authenticate_init(self.services, self.scope, payload)

    # --- subscriptions ---------------------------------------------------------------------
    def _subscribe(self, op_id: str, payload: dict[str, Any]) -> None:
        query, variables = payload.get("query"), payload.get("variables")
        op_name = payload.get("operationName")
        if (
            not isinstance(query, str)
            or not (variables is None or isinstance(variables, dict))
            or not (op_name is None or isinstance(op_name, str))
        ):
            self.close(Close.BAD_REQUEST, "Invalid subscribe payload")
            return
        assert self.principal is not None
        s = self.settings
        if len(self.ops) >= s.ws_max_subscriptions_per_connection:
            self._refuse(
                op_id,
                f"At most {s.ws_max_subscriptions_per_connection} subscriptions per connection",
            )
            return
        key = self.principal.budget_key
        if not self.server.caps.take_subscription(key, s.ws_max_subscriptions_per_key):
            self._refuse(
                op_id, f"At most {s.ws_max_subscriptions_per_key} subscriptions per API key"
            )
            return
        op = Operation(self, op_id, variables)
        self.ops[op_id] = op
        self.stats.subscriptions += 1
        self.stats.subscriptions_total += 1
        op.task = self._spawn(self._start(op, query, variables, op_name))

    def _refuse(self, op_id: str, message: str) -> None:
        self.stats.refuse("subscription_limit")
        error = dict(SubscriptionLimit(message).formatted)
        self._send_error(op_id, [error])

    def _send_error(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        if self.modern:
            self.message({"type": "error", "id": op_id, "payload": errors})
        else:
            self.message({"type": "error", "id": op_id, "payload": errors[0]})

    async def _start(
        self, op: Operation, query: str, variables: dict[str, Any] | None, op_name: str | None
    ) -> None:
        ws = WebSocket(self.scope, self.receive, self.send)
        base = build_context(ws, ws)
        ctx = replace(base, extra={**base.extra, "live_sink": op})
        op.event_cost = self._event_cost(query, variables, op_name)
        results: list[Any] = []
        try:
            stream = await self.server.schema.stream(
                query, variables, ctx, None, op_name, allowed_operation_types=WS_OPERATIONS
            )
            async for result in stream:
                results.append(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("subscription %s failed to start", op.id)
            self.fail_operation(
                op,
                {
                    "message": "Internal server error",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                },
            )
            return
        if op.done:
            return
        hub: TopicHub | None = self.services.get("topics")
        errors = [mask(e) for r in results for e in (r.errors or [])]
        if errors:
            self.fail_operation(op, errors)
        elif hub is not None and hub.is_attached(op):
            return  # live: the topic delivers from now on
        else:
            # A query sent over the socket, or a stream that ended: data, then complete.
            for r in results:
                self.control(op.prefix + orjson.dumps({"data": r.data}).decode() + "}")
            self._finish(op)
            self.message({"type": "complete", "id": op.id})

    def _event_cost(
        self, query: str, variables: dict[str, Any] | None, op_name: str | None
    ) -> float:
        """The static cost of one event (the document's estimate), cached per document."""
        cost = self.services.get("cost")
        if cost is None:
            return 0.0
        key = (query, op_name, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
        cache = self.server.event_costs
        hit = cache.get(key)
        if hit is not None:
            return hit
        try:
            graphql_schema = self.server.schema._schema  # type: ignore[attr-defined]
            value = float(cost.estimate(graphql_schema, query, variables, op_name).cost)
        except Exception:  # an estimate failure must not break delivery; the extension judged it
            log.debug("could not price a subscription event", exc_info=True)
            return 0.0
        if len(cache) >= EVENT_COST_CACHE:
            cache.pop(next(iter(cache)))
        cache[key] = value
        return value

    def fail_operation(self, op: Operation, errors: dict[str, Any] | list[dict[str, Any]]) -> None:
        if op.done or self.ops.get(op.id) is not op:
            return
        self._finish(op)
        self._send_error(op.id, errors if isinstance(errors, list) else [errors])

    def _finish(self, op: Operation) -> None:
        """End ``op`` (idempotent): detach from its topic, release caps, drop frames."""
        if op.done:
            return
        op.done = True
        if self.ops.get(op.id) is op:
            del self.ops[op.id]
        hub: TopicHub | None = self.services.get("topics")
        if hub is not None:
            hub.detach(op)
        if op.task is not None and not op.task.done() and op.task is not asyncio.current_task():
            op.task.cancel()
        op.clear()
        if self.principal is not None:
            self.server.caps.give_subscription(self.principal.budget_key)
        self.stats.subscriptions -= 1
        if not self.ops:
            self.idle_since = self.loop.time()
