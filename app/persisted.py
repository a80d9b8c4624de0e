"""Persisted queries: Apollo's automatic persisted queries (APQ) and trusted documents.

APQ (the protocol Apollo clients speak, over POST and GET)::

    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}

* hash only, known → the registered document runs;
* hash only, unknown → ``PersistedQueryNotFound`` (``PERSISTED_QUERY_NOT_FOUND``,
  HTTP 200 and ``Cache-Control: private, no-cache, must-revalidate`` as Apollo
  Server answers, so no cache keeps the miss); the client retries with the
  document;
* document + hash → the hash must be the SHA-256 of the exact document text
  (else 400 ``PERSISTED_QUERY_HASH_MISMATCH``); the document runs and is
  registered once it parsed and validated (a request error registers nothing).

Registered documents live in an in-process LRU bounded in bytes, and in Redis
when ``redis_url`` is set (shared by every process, with a TTL); a document
evicted anywhere is simply sent again by the client.

Trusted-documents mode (``persisted_trusted_only``): only documents in the
manifest run, whether sent by hash or in full; anything else is 400
``PERSISTED_QUERY_REQUIRED`` and APQ registration is off. The manifest
(``persisted_manifest``) is a JSON object ``{"<sha256>": "<document>"}`` or an
Apollo persisted-query manifest; every entry's hash is checked when it is
loaded, and the file is read again when it changes, so ``cryptoql persisted
add`` takes effect without a restart. The same check runs as a schema
extension for every transport (WebSocket operations too).

Statuses: the request-level refusals are transport errors (400) whatever the
``Accept``; only the not-found answer is 200, because Apollo clients look for
it in the body.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from strawberry.extensions import SchemaExtension

from app.lifespan import AppState
from app.settings import Settings

log = logging.getLogger("cryptoql.persisted")

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
NOT_FOUND_HEADERS = {"Cache-Control": "private, no-cache, must-revalidate"}
MANIFEST_CHECK_SECONDS = 1.0


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PersistedQueryError(Exception):
    """A refused persisted-query request: HTTP status, ``extensions.code``, message."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def not_found() -> PersistedQueryError:
    return PersistedQueryError(
        200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", dict(NOT_FOUND_HEADERS)
    )


def not_supported() -> PersistedQueryError:
    return PersistedQueryError(
        200, "PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", dict(NOT_FOUND_HEADERS)
    )


def required() -> PersistedQueryError:
    return PersistedQueryError(
        400,
        "PERSISTED_QUERY_REQUIRED",
        "This server runs only registered (trusted) documents; send a registered hash",
    )


def load_manifest(path: Path) -> dict[str, str]:
    """``{hash: document}`` from either manifest format; a wrong hash is a ``ValueError``."""
    raw: Any = orjson.loads(path.read_bytes())
    pairs: list[tuple[str, str]]
    if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
        pairs = [(str(op.get("id")), op.get("body")) for op in raw["operations"]]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ValueError(f"{path}: expected a JSON object")
    out: dict[str, str] = {}
    for key, body in pairs:
        if not isinstance(body, str) or not _HEX64.fullmatch(key):
            raise ValueError(f"{path}: entry {key!r} is not a sha256 hash with a document")
        if sha256_of(body) != key.lower():
            raise ValueError(f"{path}: {key} is not the sha256 of its document")
        out[key.lower()] = body
    return out


class Manifest:
    """The trusted documents, re-read (at most once a second) when the file changes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None
        self.documents: dict[str, str] = {}
        self._mtime: float | None = None
        self._checked = 0.0
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        stat = self.path.stat()
        self.documents = load_manifest(self.path)
        self._mtime = stat.st_mtime
        log.info("trusted documents loaded", extra={"documents": len(self.documents)})

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._checked < MANIFEST_CHECK_SECONDS:
            return
        self._checked = now
        try:
            if os.stat(self.path).st_mtime != self._mtime:
                self._load()
        except (OSError, ValueError) as exc:  # keep serving the last good manifest
            log.error("trusted documents not reloaded: %s", exc)

    def get(self, digest: str) -> str | None:
        found = self.documents.get(digest)
        if found is None:
            self._refresh()
            found = self.documents.get(digest)
        return found


class PersistedQueries:
    """The process's registered documents (manifest, LRU, Redis) and the APQ rules."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        trusted_only: bool = False,
        manifest: str = "",
        max_bytes: int = 8 * 1024 * 1024,
        redis: Redis | None = None,
        redis_prefix: str = "cryptoql:apq:",
        redis_ttl_seconds: int = 7 * 86400,
    ) -> None:
        self.enabled = enabled or trusted_only
        self.trusted_only = trusted_only
        self.manifest = Manifest(manifest)
        self.max_bytes = max_bytes
        self.redis = redis
        self.redis_prefix = redis_prefix
        self.redis_ttl_seconds = redis_ttl_seconds
        self._docs: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0
        self.registered = 0
        self.redis_errors = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedQueries:
        redis = None
        if settings.redis_url and not settings.persisted_trusted_only:
            redis = Redis.from_url(
                settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
            )
        return cls(
            enabled=settings.persisted_queries_enabled,
            trusted_only=settings.persisted_trusted_only,
            manifest=settings.persisted_manifest,
            max_bytes=settings.persisted_cache_max_bytes,
            redis=redis,
            redis_prefix=settings.persisted_redis_prefix,
            redis_ttl_seconds=settings.persisted_redis_ttl_seconds,
        )

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    # -- documents -----------------------------------------------------------

    def is_trusted(self, digest: str) -> bool:
        return self.manifest.get(digest) is not None

    def cached(self, digest: str) -> str | None:
        """A document known without I/O (manifest or this process's LRU)."""
        found = self.manifest.get(digest)
        if found is not None or self.trusted_only:
            return found
        found = self._docs.get(digest)
        if found is not None:
            self._docs.move_to_end(digest)
        return found

    async def lookup(self, digest: str) -> str | None:
        found = self.cached(digest)
        if found is not None or self.trusted_only or self.redis is None:
            return found
        try:
            raw = await self.redis.get(self.redis_prefix + digest)
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            return None
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        if sha256_of(text) != digest:  # never trust what a shared store returns
            return None
        self._remember(digest, text)
        return text

    async def register(self, digest: str, text: str) -> None:
        if self.trusted_only or self._docs.get(digest) is not None:
            return
        self._remember(digest, text)
        self.registered += 1
        if self.redis is None:
            return
        try:
            await self.redis.set(self.redis_prefix + digest, text, ex=self.redis_ttl_seconds)
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)

    def _remember(self, digest: str, text: str) -> None:
        size = len(text) + 64
        if size > self.max_bytes:
            return
        self._docs[digest] = text
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._docs.popitem(last=False)
            self._bytes -= len(old) + 64

    def _redis_failed(self, exc: Exception) -> None:
        self.redis_errors += 1
        if self.redis_errors in (1, 10, 100) or self.redis_errors % 1000 == 0:
            log.warning("persisted queries: redis failed: %s", exc)

    # -- the protocol ----------------------------------------------------------

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None
    ) -> tuple[str | None, tuple[str, str] | None]:
        """The document to run, and the ``(hash, document)`` to register once it ran.

        Raises :class:`PersistedQueryError` for a request the protocol refuses.
        """
        pq = (extensions or {}).get("persistedQuery")
        if pq is None:
            if self.trusted_only and query is not None and not self.is_trusted(sha256_of(query)):
                raise required()
            return query, None
        if not self.enabled:
            raise not_supported()
        digest = _requested_hash(pq)
        if query is not None:
            if sha256_of(query) != digest:
                raise PersistedQueryError(
                    400,
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    "provided sha256Hash does not match the SHA-256 of the query",
                )
            if self.trusted_only:
                if not self.is_trusted(digest):
                    raise required()
                return query, None
            return query, (None if self.cached(digest) else (digest, query))
        text = await self.lookup(digest)
        if text is None:
            raise not_found()
        return text, None

    async def peek(
        self, query: str | None, extensions: dict[str, Any] | None
    ) -> tuple[str, tuple[str, str] | None] | None:
        """What :meth:`resolve` would return, or None where it would refuse; never raises.

        Used by the response cache's fast path, which must not answer a request
        the protocol refuses (and must still register a document it answers).
        """
        try:
            text, registration = await self.resolve(query, extensions)
        except PersistedQueryError:
            return None
        return None if text is None else (text, registration)


def _requested_hash(pq: Any) -> str:
    if not isinstance(pq, dict) or pq.get("version") != 1:
        raise PersistedQueryError(
            400, "BAD_REQUEST", "extensions.persistedQuery must be {version: 1, sha256Hash}"
        )
    digest = pq.get("sha256Hash")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise PersistedQueryError(
            400, "BAD_REQUEST", "persistedQuery.sha256Hash must be 64 hexadecimal digits"
        )
    return digest.lower()


class TrustedDocuments(SchemaExtension):
    """Trusted-documents mode for every transport (register as a class).

    HTTP requests are refused earlier by the view with a 400; this catches
    operations that reach the schema another way (WebSocket subscribe).
    """

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        services = getattr(ec.context, "services", None) or {}
        store = services.get("persisted")
        query = ec.query
        if (
            isinstance(store, PersistedQueries)
            and store.trusted_only
            and query is not None
            and not store.is_trusted(sha256_of(query))
        ):
            err = required()
            raise GraphQLError(err.message, extensions={"code": err.code})
        yield


@asynccontextmanager
async def persisted_component(
    settings: Settings, _state: AppState
) -> AsyncIterator[dict[str, Any]]:
    """Lifespan component: ``services["persisted"]`` (a bad manifest fails the start)."""
    store = PersistedQueries.from_settings(settings)
    try:
        yield {"persisted": store}
    finally:
        await store.aclose()


__all__ = [
    "Manifest",
    "PersistedQueries",
    "PersistedQueryError",
    "TrustedDocuments",
    "load_manifest",
    "persisted_component",
    "sha256_of",
]
