"""Exact response caching: whole query answers, reused only while provably current.

An answer is stored under a key made of

* the schema's fingerprint (a deploy that changes the schema shares nothing),
* the *normalised* document (SHA-256 of the printed AST: formatting and
  comments do not matter; a persisted query resolves to its document first),
* the operation name and the variables as canonical JSON (sorted keys),
* the caller's *visibility*: tier and scopes (``ctx.principal``). Scopes decide
  which fields validate and the tier whether introspection is allowed; nothing
  else about the caller changes an answer, so callers with the same visibility
  share entries and callers with different visibility never do.

It is reused only while (1) every data domain the document reads
(``app.cache_domains``) still has the data version it had *before* the answer
was computed (``app.cache_versions``; a bump during execution leaves the entry
stale at once) and (2) its lifetime has not run out: ``response_cache_live_ttl_seconds``
(1 s) for answers read at the request time, whose ages and ``stale`` flags move
with the clock, ``response_cache_ttl_seconds`` for everything else.

Only complete answers are stored: queries without errors, without
``rateLimit`` (it reports the caller's budget), not dry runs or cost
breakdowns, no larger than ``response_cache_max_entry_bytes``. A hit is still
charged exactly like the original answer (same requested and actual cost,
same ``extensions.cost``, same ``X-RateLimit-*`` headers, same 429), see
``app.cache_http``.

The cache is on by default, in-process (an LRU bounded in bytes), in Redis
when ``redis_url`` is set. Under ``CRYPTOQL_ENV=test`` it is off unless
``response_cache_enabled`` is set explicitly: tests write rows directly,
without the version bumps ingest makes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSchema, print_schema

from app.cache_domains import DocumentFacts, analyse
from app.cache_store import MemoryStore, RedisStore, Store
from app.cache_versions import DataVersions, Snapshot
from app.document_cache import parse_document
from app.health import register_readiness
from app.lifespan import AppState
from app.settings import Settings
from pubsub.broker import BrokerError
from resolvers.principal import Principal

log = logging.getLogger("cryptoql.cache")

KEY_FORMAT = b"cryptoql-response-cache-1"
MAX_FACTS = 1024
MAX_FACTS_TEXT = 4 * 1024 * 1024


def cache_should_run(settings: Settings) -> bool:
    if "response_cache_enabled" in settings.model_fields_set:
        return settings.response_cache_enabled
    return settings.response_cache_enabled and settings.env != "test"


class ResponseCache:
    """The process's response cache: document facts, keys, the store and the versions.

    ``store`` is ``None`` when caching answers is off; document facts (what a
    document reads, whether it is a cacheable query) are still used for the
    HTTP ``ETag``/``Cache-Control`` headers.
    """

    def __init__(
        self,
        *,
        store: Store | None = None,
        versions: DataVersions | None = None,
        live_ttl: float = 1.0,
        ttl: float = 60.0,
        max_entry_bytes: int = 2 * 1024 * 1024,
        max_tokens: int | None = None,
        http_max_age: int = 1,
        flight_wait: float = 10.0,
    ) -> None:
        self.store = store
        self.versions = versions
        self.live_ttl = live_ttl
        self.ttl = ttl
        self.max_entry_bytes = max_entry_bytes
        self.parse_options: dict[str, Any] = (
            {} if max_tokens is None else {"max_tokens": max_tokens}
        )
        self.http_max_age = http_max_age
        #: operations being computed, by key: other requests for the key wait for them
        self.flights: dict[str, asyncio.Future[None]] = {}
        self.flight_wait = flight_wait
        self._facts: OrderedDict[tuple[int, str, str | None], DocumentFacts] = OrderedDict()
        self._facts_chars = 0
        self._fingerprints: dict[int, tuple[GraphQLSchema, bytes]] = {}
        self._prefixes: dict[int, tuple[DocumentFacts, GraphQLSchema, Any]] = {}
        self.counts: dict[str, int] = {
            "hits": 0,
            "coalesced": 0,
            "misses": 0,
            "stale": 0,
            "stores": 0,
            "uncacheable": 0,
            "throttled_hits": 0,
            "version_errors": 0,
        }

    @classmethod
    def from_settings(cls, settings: Settings, broker: Any) -> ResponseCache:
        store: Store | None = None
        versions = DataVersions(broker) if broker is not None else None
        if cache_should_run(settings) and versions is not None:
            backend = settings.response_cache_backend
            if backend == "auto":
                backend = "redis" if settings.redis_url else "memory"
            if backend == "redis":
                if not settings.redis_url:
                    raise ValueError("response_cache_backend=redis needs redis_url")
                store = RedisStore.from_url(
                    settings.redis_url,
                    settings.response_cache_redis_prefix,
                    settings.response_cache_max_bytes,
                )
            else:
                store = MemoryStore(settings.response_cache_max_bytes)
        return cls(
            store=store,
            versions=versions,
            live_ttl=settings.response_cache_live_ttl_seconds,
            ttl=settings.response_cache_ttl_seconds,
            max_entry_bytes=settings.response_cache_max_entry_bytes,
            max_tokens=settings.max_tokens,
            http_max_age=settings.http_cache_max_age_seconds,
            flight_wait=settings.request_timeout_seconds,
        )

    @property
    def active(self) -> bool:
        """True when answers are stored and served (not only HTTP validators)."""
        return self.store is not None and self.versions is not None

    async def aclose(self) -> None:
        if self.store is not None:
            await self.store.aclose()

    # -- documents -------------------------------------------------------------

    def known_facts(
        self, schema: GraphQLSchema, text: str, operation_name: str | None
    ) -> DocumentFacts | None:
        """Facts already worked out for this text (no parsing on the fast path)."""
        key = (id(schema), text, operation_name)
        found = self._facts.get(key)
        if found is not None:
            self._facts.move_to_end(key)
        return found

    def facts(
        self, schema: GraphQLSchema, text: str, operation_name: str | None
    ) -> DocumentFacts | None:
        """The facts of a document (parsed through the shared LRU); None if it does not parse."""
        found = self.known_facts(schema, text, operation_name)
        if found is not None:
            return found
        try:
            document = parse_document(text, self.parse_options)
        except GraphQLError:
            return None
        facts = analyse(schema, document, operation_name)
        self._facts[(id(schema), text, operation_name)] = facts
        self._facts_chars += len(text)
        while len(self._facts) > MAX_FACTS or self._facts_chars > MAX_FACTS_TEXT:
            (_, old_text, _), _old = self._facts.popitem(last=False)
            self._facts_chars -= len(old_text)
        return facts

    def fingerprint(self, schema: GraphQLSchema) -> bytes:
        found = self._fingerprints.get(id(schema))
        if found is None or found[0] is not schema:
            digest = hashlib.sha256(print_schema(schema).encode()).digest()
            found = self._fingerprints[id(schema)] = (schema, digest)
        return found[1]

    def key(
        self,
        schema: GraphQLSchema,
        facts: DocumentFacts,
        variables: Mapping[str, Any] | None,
        principal: Principal,
    ) -> str:
        """SHA-256 over schema, document, operation, variables and visibility (length-prefixed)."""
        found = self._prefixes.get(id(facts))
        if found is None or found[0] is not facts or found[1] is not schema:
            h = hashlib.sha256(KEY_FORMAT)
            for part in (
                self.fingerprint(schema),
                facts.digest.encode(),
                (facts.operation_name or "").encode(),
            ):
                _update(h, part)
            if len(self._prefixes) >= MAX_FACTS:
                self._prefixes.clear()
            found = self._prefixes[id(facts)] = (facts, schema, h)
        h = found[2].copy()
        _update(h, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS))
        _update(h, _visibility(principal.tier, principal.scopes))
        return h.hexdigest()

    def lifetime(self, facts: DocumentFacts, variables: Mapping[str, Any] | None) -> float:
        """Seconds an answer may be reused (0: do not store)."""
        if facts.is_live(variables):
            return min(self.live_ttl, self.ttl)
        return self.ttl

    # -- versions --------------------------------------------------------------

    async def snapshot(self) -> Snapshot | None:
        """All domains' data versions now; None when they cannot be read (no caching then)."""
        if self.versions is None:
            return None
        try:
            return await self.versions.snapshot()
        except (BrokerError, OSError) as exc:
            self.counts["version_errors"] += 1
            if self.counts["version_errors"] in (1, 10, 100):
                log.warning("response cache: data versions unavailable: %s", exc)
            return None

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"active": self.active, **self.counts}
        if self.store is not None:
            out["backend"] = self.store.backend
            out.update(self.store.stats())
        return out


@functools.lru_cache(maxsize=256)
def _visibility(tier: str, scopes: frozenset[str]) -> bytes:
    """What about a caller can change an answer: tier and scopes."""
    return f"{tier}\x00{','.join(sorted(scopes))}".encode()


def _update(h: Any, part: bytes) -> None:
    h.update(len(part).to_bytes(4, "big"))
    h.update(part)


@asynccontextmanager
async def response_cache_component(
    settings: Settings, state: AppState
) -> AsyncIterator[dict[str, Any]]:
    """Lifespan component: ``services["response_cache"]`` (after the broker and cost)."""
    cache = ResponseCache.from_settings(settings, state["services"].get("broker"))
    log.info("response cache ready", extra=cache.stats())

    async def report() -> tuple[bool, dict[str, Any]]:
        return True, cache.stats()  # never unready: without versions the cache is bypassed

    register_readiness(state["services"], "response_cache", report)
    try:
        yield {"response_cache": cache}
    finally:
        await cache.aclose()


__all__ = ["ResponseCache", "cache_should_run", "response_cache_component"]
