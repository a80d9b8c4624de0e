"""ASGI middleware: refuse keys in URLs, authenticate ``/graphql`` requests, set the principal.

Runs before the GraphQL view, so a refused request never reaches parsing or
execution; the result is put in ``request.state.principal`` (read by
``app.context.build_context``). Keys are read only from ``X-API-Key`` or
``Authorization: Bearer <key>``. A key-looking query parameter (any value in
our key format, or a parameter named like a credential) gets 400
``KEY_IN_URL`` on *every* path, HTTP or WebSocket handshake, because a URL is
logged by proxies and kept in browser history: the key must be treated as
leaked, and answering normally would teach clients a bad habit.

WebSocket connections are authenticated later, from the ``connection_init``
payload, by the WebSocket glue calling :func:`app.auth.authenticate`.

Errors are JSON ``{"errors":[{"message","extensions":{"code"}}]}`` with the
status of :class:`app.auth.errors.AuthError` (401/403/400).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth import errors
from app.auth.component import service_of
from app.auth.keyformat import LOOKS_LIKE_KEY

PROTECTED_PREFIXES = ("/graphql", "/admin/")
CREDENTIAL_PARAMS = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "key",
        "access_token",
        "token",
        "auth",
        "authorization",
        "bearer",
    }
)


def key_in_url(path: str, query_string: bytes) -> bool:
    """Whether the URL carries something that looks like a credential."""
    if LOOKS_LIKE_KEY.search(unquote(path)):
        return True
    if not query_string:
        return False
    raw = query_string.decode("latin-1")
    for name, value in parse_qsl(raw, keep_blank_values=True):
        norm = name.strip().lower().replace("-", "_")
        if norm in CREDENTIAL_PARAMS and value:
            return True
        if LOOKS_LIKE_KEY.search(value) or LOOKS_LIKE_KEY.search(name):
            return True
    return bool(LOOKS_LIKE_KEY.search(unquote(raw)))


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer``; conflicting/odd ones are refused."""
    found: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname == b"x-api-key":
            found.append(value.decode("latin-1").strip())
        elif lname == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise errors.invalid("unsupported_authorization")
            found.append(credentials.strip())
    if not found:
        return None
    if len(set(found)) > 1:
        raise errors.invalid("conflicting_credentials")
    return found[0]


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _needs_auth(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if not any(path == p.rstrip("/") or path.startswith(p) for p in PROTECTED_PREFIXES):
        return False
    method = scope.get("method", "GET")
    if method == "POST":
        return True
    if method != "GET":
        return False  # OPTIONS (CORS preflight), HEAD …: nothing runs
    if path.startswith("/admin/"):
        return True
    # A GET without a query or a persisted-query hash runs nothing (GraphiQL page).
    names = {n for n, _ in parse_qsl(scope.get("query_string", b"").decode("latin-1"))}
    return bool(names & {"query", "extensions"})


async def send_error(send: Send, error: errors.AuthError) -> None:
    body = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="cryptoql"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse_websocket(scope: Scope, send: Send, error: errors.AuthError) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps(error.body()).encode()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": error.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


class AuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if key_in_url(scope.get("path", ""), scope.get("query_string", b"")):
            error = errors.key_in_url()
            if kind == "http":
                await send_error(send, error)
            else:
                await _refuse_websocket(scope, send, error)
            return
        if kind == "http" and _needs_auth(scope):
            state: dict[str, Any] = scope.setdefault("state", {})
            try:
                key = presented_key(scope.get("headers", []))
                principal = await service_of(state).authenticate(key, client_ip(scope))
            except errors.AuthError as exc:
                await send_error(send, exc)
                return
            state["principal"] = principal
        await self.app(scope, receive, send)
