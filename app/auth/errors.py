"""Authentication outcomes a caller can see, each with a stable ``extensions.code``.

The message never depends on *why* a presented key failed when that would help
an attacker: malformed, bad checksum, unknown id and wrong secret all read
``Invalid API key`` with code ``INVALID_API_KEY``; the reason goes only to the
log and the audit trail. ``API_KEY_REVOKED``/``API_KEY_EXPIRED`` are only
reported to a caller who proved they hold the secret.
"""

from __future__ import annotations

from typing import Any

UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID_API_KEY = "INVALID_API_KEY"
API_KEY_REVOKED = "API_KEY_REVOKED"
API_KEY_EXPIRED = "API_KEY_EXPIRED"
FORBIDDEN = "FORBIDDEN"
KEY_IN_URL = "KEY_IN_URL"

INVALID_MESSAGE = "Invalid API key"
MISSING_MESSAGE = (
    "An API key is required: send it in the X-API-Key header or as Authorization: Bearer <key>"
)
REVOKED_MESSAGE = "This API key has been revoked"
EXPIRED_MESSAGE = "This API key has expired"
IP_MESSAGE = "This API key may not be used from this network address"
URL_MESSAGE = (
    "API keys must never be sent in a URL (URLs end up in logs and browser history): "
    "send the key in the X-API-Key or Authorization header. The request was refused; "
    "treat a key that was put in a URL as leaked and rotate it."
)


class AuthError(Exception):
    """Refuses a request or a WebSocket connection.

    ``status`` is the HTTP status for the whole request; the WebSocket glue
    closes with 4403 instead. ``reason`` is a machine tag for logs and the
    audit trail and is never sent to the client.
    """

    def __init__(self, code: str, message: str, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.reason = reason or code.lower()

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def missing() -> AuthError:
    return AuthError(UNAUTHENTICATED, MISSING_MESSAGE, 401, "missing")


def invalid(reason: str) -> AuthError:
    return AuthError(INVALID_API_KEY, INVALID_MESSAGE, 401, reason)


def revoked() -> AuthError:
    return AuthError(API_KEY_REVOKED, REVOKED_MESSAGE, 401, "revoked")


def expired() -> AuthError:
    return AuthError(API_KEY_EXPIRED, EXPIRED_MESSAGE, 401, "expired")


def ip_not_allowed() -> AuthError:
    return AuthError(FORBIDDEN, IP_MESSAGE, 403, "ip_not_allowed")


def key_in_url() -> AuthError:
    return AuthError(KEY_IN_URL, URL_MESSAGE, 400, "key_in_url")
