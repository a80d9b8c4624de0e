"""API keys: format, storage, authentication, scopes policy, revocation (docs/keys.md).

Public entry points: :func:`authenticate` (for the WebSocket init),
:class:`AuthMiddleware` (HTTP), :func:`keys_component` (lifespan) and
:class:`AuthError`.
"""

from __future__ import annotations

from app.auth.admin import ADMIN_ROUTES
from app.auth.component import authenticate, keys_component, service_of
from app.auth.errors import AuthError
from app.auth.middleware import AuthMiddleware

__all__ = [
    "ADMIN_ROUTES",
    "AuthError",
    "AuthMiddleware",
    "authenticate",
    "keys_component",
    "service_of",
]
