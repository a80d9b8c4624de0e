"""ASGI middleware: request context (id, logs, metrics) and the request-size caps.

Both are plain ASGI callables rather than ``BaseHTTPMiddleware``: they must see
the raw ``receive``/``send`` (to count body bytes as they stream in, to stamp
headers on the response start) and they add no task per request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.logging import RequestInfo, current_request, request_id_from
from app.metrics import Metrics
from loaders.base import batch_observer
from storage.instrument import counting_statements

log = logging.getLogger("cryptoql.access")

#: Probe and scrape paths are logged at DEBUG so they do not drown the access log.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
#: Status recorded when the client disconnected before the response (nginx's 499).
CLIENT_CLOSED = 499


def _header(scope: Scope, name: bytes) -> str | None:
    """``Headers(scope=scope).get(name)`` (``name`` lower case): the first value, without
    building a ``Headers`` or raising and catching a KeyError when it was not sent."""
    raw = scope["headers"]
    if not isinstance(raw, list):  # any iterable, which Headers turns into a list
        return Headers(scope=scope).get(name.decode("latin-1"))
    for key, value in raw:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class RequestContextMiddleware:
    """Gives every request an id, then logs it and records its metrics.

    The id comes from a sane ``X-Request-ID`` or is generated; it is echoed in
    the response, put in ``request.state.request_id`` (the GraphQL context reads
    it) and in a context variable that every log line of the request carries.
    An exception that escapes the app is logged with the id and answered with a
    JSON 500 when no response has started.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics | None, routes: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        info = RequestInfo(request_id=request_id_from(_header(scope, b"x-request-id")))
        scope.setdefault("state", {})["request_id"] = info.request_id
        token = current_request.set(info)
        observer = batch_observer.set(self.metrics.observe_batch if self.metrics else None)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, info)
        finally:
            batch_observer.reset(observer)
            current_request.reset(token)

    def _route(self, path: str) -> str:
        if path in self.routes:
            return path
        if path.startswith("/static/"):
            return "/static"
        return "other"

    async def _http(self, scope: Scope, receive: Receive, send: Send, info: RequestInfo) -> None:
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = info.request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        if self.metrics is not None:
            self.metrics.in_flight.inc()
        with counting_statements() as sql:
            try:
                await self.app(scope, receive, send_with_id)
            except ClientDisconnect:
                status = CLIENT_CLOSED  # the client left mid-request: nothing to answer
            except Exception:
                log.exception("unhandled error while serving %s", scope["path"])
                if started:
                    raise
                await error_response(500, "INTERNAL_SERVER_ERROR", "Internal server error")(
                    scope, receive, send_with_id
                )
            finally:
                self._finish(scope, info, status, time.perf_counter() - start, sql.count)

    def _finish(
        self, scope: Scope, info: RequestInfo, status: int, seconds: float, sql: int
    ) -> None:
        path: str = scope["path"]
        route = self._route(path)
        graphql = route == "/graphql" and bool(info.operation_type or info.error_codes)
        if self.metrics is not None:
            self.metrics.in_flight.dec()
            self.metrics.observe_http(route, scope["method"], status, seconds)
            if graphql:
                self.metrics.observe_graphql(info, seconds, sql)
        extra: dict[str, Any] = {
            "method": scope["method"],
            "path": path,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
        }
        if graphql:
            extra.update(
                operation=info.operation_name,
                operation_type=info.operation_type,
                sql_statements=sql,
                error_codes=info.error_codes or None,
            )
        level = logging.DEBUG if path in QUIET_PATHS and status < 500 else logging.INFO
        log.log(level, "%s %s %s", scope["method"], path, status, extra=extra)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Caps the request body (413) and the query string (414).

    ``Content-Length`` is checked up front, and the body is also counted as it
    streams in, so a chunked upload or a lying header cannot get past the cap.
    Nothing above this middleware buffers more than the cap.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_bytes:
            await self._reject(scope, receive, send, 414, "URI_TOO_LONG", "URL too long")
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await self._reject(scope, receive, send, 400, "BAD_REQUEST", "Bad Content-Length")
                return
            if int(declared) > self.max_bytes:
                await self._reject(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", "")
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send, 413, "PAYLOAD_TOO_LARGE", "")

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
    ) -> None:
        if status == 413:
            message = f"Request body too large (the limit is {self.max_bytes} bytes)"
        await error_response(status, code, message)(scope, receive, send)
