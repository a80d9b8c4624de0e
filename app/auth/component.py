"""The API-key lifespan component and the entry point other transports call.

``keys_component`` (listed in ``app.components.COMPONENTS``) builds, once per
process: the server secret, the key cache, the audit writer, the Redis
invalidation listener (when ``redis_url`` is set), and publishes them as
``services["keys"]`` (:class:`KeyService`), ``services["key_admin"]``
(:class:`KeyAdmin`) and ``services["key_invalidation"]`` (the listener or
``None``). Who may introspect is decided by ``app.limits`` from the principal
this package sets and ``key_introspection_tiers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from app.auth import redact
from app.auth.audit import AuditWriter
from app.auth.cache import TTLCache
from app.auth.invalidation import InvalidationListener
from app.auth.keyformat import fingerprint
from app.auth.manage import KeyAdmin
from app.auth.secret import load_hmac_key
from app.auth.service import KeyService
from app.settings import Settings
from resolvers.principal import Principal
from storage.repositories import keys as repo
from storage.repositories.keys import ApiKeyRecord

if TYPE_CHECKING:
    from app.lifespan import AppState

log = logging.getLogger("cryptoql.auth")

SUBSCRIBE_WAIT_SECONDS = 2.0


def key_mode(settings: Settings) -> str:
    """Production issues and accepts ``live`` keys; every other environment ``test`` keys."""
    return "live" if settings.is_production else "test"


def service_of(services: Mapping[str, Any]) -> KeyService:
    """The :class:`KeyService` from ``state["services"]`` (or from the state itself)."""
    holder = services.get("services", services)
    service = holder.get("keys") if isinstance(holder, Mapping) else None
    if not isinstance(service, KeyService):
        raise RuntimeError("the API-key component is not running (app.components.COMPONENTS)")
    return service


async def authenticate(
    services: Mapping[str, Any], presented_key: str | None, client_ip: str
) -> Principal:
    """Authenticate one caller; for transports other than HTTP (the WebSocket init).

    ``services`` is the lifespan's ``state["services"]`` (the whole state
    works too); ``presented_key`` is the key exactly as the client sent it, or
    ``None``/``""`` when it sent none (e.g. ``connection_init`` payload
    ``{"apiKey": "cq_live_…"}``); ``client_ip`` the peer address.

    Returns the :class:`Principal` (anonymous when no key was given and
    anonymous access is on). Raises :class:`app.auth.errors.AuthError` with
    ``code``/``message``/``status`` when refused: the WebSocket glue should
    close the connection with 4403 (``ConnectionRejectionError``) and may use
    ``error.body()`` as the reason payload. Never log the presented key.
    """
    return await service_of(services).authenticate(presented_key, client_ip)


@asynccontextmanager
async def keys_component(settings: Settings, state: AppState) -> AsyncIterator[dict[str, Any]]:
    redact.install()
    hmac_key = await asyncio.to_thread(load_hmac_key, settings)
    mode = key_mode(settings)
    cache: TTLCache[ApiKeyRecord] = TTLCache(
        settings.key_cache_ttl_seconds, settings.key_cache_max_entries
    )
    audit = AuditWriter(state["sessions"], settings.key_audit_queue_size)
    service = KeyService(
        sessions=state["sessions"],
        hmac_key=hmac_key,
        mode=mode,
        anonymous_enabled=settings.anonymous_enabled,
        anonymous_scopes=settings.anonymous_scopes,
        cache=cache,
        audit=audit,
    )
    admin = KeyAdmin(
        state["sessions"],
        hmac_key,
        mode,
        redis_url=settings.redis_url,
        channel=settings.key_invalidation_channel,
    )
    await _warn_on_foreign_keys(admin)
    audit.start()
    listener: InvalidationListener | None = None
    if settings.redis_url:
        listener = InvalidationListener(
            settings.redis_url, settings.key_invalidation_channel, cache.evict, cache.clear
        )
        listener.start()
        try:
            await asyncio.wait_for(listener.subscribed.wait(), SUBSCRIBE_WAIT_SECONDS)
        except TimeoutError:
            log.warning(
                "key invalidation feed not subscribed yet; revocations rely on the %.1fs cache TTL",
                settings.key_cache_ttl_seconds,
            )
    try:
        yield {
            "keys": service,
            "key_admin": admin,
            "key_invalidation": listener,
        }
    finally:
        if listener is not None:
            await listener.stop()
        await audit.stop()


async def _warn_on_foreign_keys(admin: KeyAdmin) -> None:
    with contextlib.suppress(Exception):
        async with admin.sessions() as session:
            foreign = await repo.count_foreign_fingerprints(session, fingerprint(admin.hmac_key))
        if foreign:
            log.warning(
                "%d active API keys were issued under a different key_hmac_secret and "
                "cannot authenticate; restore that secret or reissue them",
                foreign,
            )
