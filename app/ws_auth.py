"""API keys on WebSockets: read at ``connection_init``, re-checked while the socket lives.

Browsers cannot set headers on a WebSocket, so the key is read from the init
payload (``apiKey``, ``api_key``, ``X-API-Key``/``x-api-key``, or
``Authorization: "Bearer …"``), falling back to the handshake's ``X-API-Key``
/ ``Authorization`` headers for other clients; then ``app.auth.authenticate``
decides exactly as for HTTP. A socket can outlive its key (revoked, expired),
so the connection re-asks :func:`key_refusal` periodically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

from app.auth import authenticate
from app.auth.middleware import client_ip, presented_key
from resolvers.principal import Principal

log = logging.getLogger("cryptoql.ws")

KEY_FIELDS = ("apiKey", "api_key", "x-api-key", "X-API-Key", "authorization", "Authorization")


def key_from_init(payload: Mapping[str, Any]) -> str | None:
    for name in KEY_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value.strip():
            presented = value.strip()
            if name.lower() == "authorization":
                scheme, _, credentials = presented.partition(" ")
                return credentials.strip() if scheme.lower() == "bearer" else presented
            return presented
    return None


async def authenticate_init(
    services: Mapping[str, Any], scope: Scope, payload: Mapping[str, Any]
) -> Principal:
    """The caller of this socket, or :class:`app.auth.AuthError` (closed with 4403)."""
    presented = key_from_init(payload)
    if presented is None:
        presented = presented_key(scope.get("headers", []))
    ip = client_ip(scope)
    if "keys" not in services:
        # No API-key component in this process (a bare test app): anonymous.
        return Principal(client_ip=ip)
    return await authenticate(services, presented, ip)


async def key_refusal(services: Mapping[str, Any], principal: Principal) -> str | None:
    """Why this socket's key may no longer be used, or ``None`` while it is fine."""
    if principal.key_id is None:
        return None
    if principal.expires_at is not None and principal.expires_at <= datetime.now(UTC):
        return "This API key has expired"
    keys = services.get("keys")
    try:
        active = True if keys is None else await keys.is_active(principal.key_id)
    except Exception:  # a database hiccup must not drop live sockets
        log.warning("could not recheck API key %s", principal.key_id, exc_info=True)
        return None
    return None if active else "This API key has been revoked or has expired"
