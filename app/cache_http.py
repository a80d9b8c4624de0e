"""The HTTP side of persisted queries and caching: one :class:`CacheExchange` per request.

The view (``app.view``) drives it with four calls::

    cx = begin_exchange(request, schema, media_type)   # before anything else
    response = await cx.cached() or await view.run(request)
    response = cx.finish(response)                       # ETag, Cache-Control, 304
    cx.close()

and two hooks inside strawberry's request cycle: :func:`persisted_request`
(``parse_http_body``: APQ and trusted documents, before execution) and
:func:`remember_result` (``process_result``: store the answer, register an
APQ document).

**A hit** never enters strawberry: the request's document (text or persisted
hash, resolved without I/O), operation name, variables and the caller's
visibility give the key; the entry must match the current data versions. The
caller is then charged as :class:`cost.extension.CostExtension` would charge
the original answer: the same per-operation maximum check, the requested cost
taken from the budget (a caller that cannot pay falls through to the normal
path, which answers 429 exactly as without the cache), the difference to the
actual cost refunded, the same ``X-RateLimit-*`` headers and the same
``extensions.cost``. The body is the cached ``data`` bytes followed by that
``extensions`` member, laid out as the normal path lays it out, so a hit is
byte-identical to a miss except for the budget figures.

**HTTP caching** (GET only): a cacheable answer carries a weak ``ETag`` over
its ``data`` bytes and ``Cache-Control: public`` (anonymous caller) or
``private`` (API key) with ``max-age=http_cache_max_age_seconds``, and
``Vary: Accept, Authorization, X-API-Key``; a matching ``If-None-Match`` gets
304 without a body (charged like the answer it stands for). Everything else
answered over GET is ``no-store``. The ETag is weak because the representation
also carries the caller's budget, which changes with every request, and
because compression (``app.compression``) re-encodes the bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from contextvars import ContextVar
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.types import ExecutionResult

from app.cache_domains import DocumentFacts
from app.cache_store import Entry
from app.cache_versions import Snapshot
from app.context import client_ip
from app.document_cache import parse_document
from app.http_json import decode_json, encode_json
from app.http_json import parse_content_type as parse_media_type
from app.logging import current_request
from app.persisted import PersistedQueries, PersistedQueryError
from app.response_cache import ResponseCache
from cost.analysis import rounded
from cost.extension import OperationCost, rate_limit_headers
from cost.service import CostService
from resolvers.principal import Principal

#: request headers that make an operation a dry run or add a breakdown: never cached
BYPASS_HEADERS = ("x-cost-dry-run", "x-cost-include-fields")
_BYPASS = frozenset(h.encode() for h in BYPASS_HEADERS)
VARY = ("Accept", "Authorization", "X-API-Key")
_VARY = ", ".join(VARY).encode()
_VALIDATORS = frozenset({b"etag", b"cache-control"})
_DROP_ON_304 = frozenset({b"content-length", b"content-type", b"content-encoding"})

_current: ContextVar[CacheExchange | None] = ContextVar("cryptoql_cache_exchange", default=None)


class PersistedHttpError(HTTPException):
    """A persisted-query refusal as the view's transport error (``code``, ``headers``)."""

    def __init__(self, exc: PersistedQueryError) -> None:
        super().__init__(exc.status, exc.message)
        self.code = exc.code
        self.headers = exc.headers


def make_etag(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()[:18]
    return 'W/"' + base64.urlsafe_b64encode(digest).decode() + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


class CacheExchange:
    """Everything persisted queries and caching learn about one HTTP request."""

    def __init__(self, request: Request, schema: BaseSchema, media_type: str) -> None:
        self.request = request
        self.media_type = media_type
        self.gql_schema: GraphQLSchema = schema._schema  # type: ignore[attr-defined]
        # the lifespan state and what the middleware put there (a plain dict: fast)
        state: dict[str, Any] = request.scope.get("state") or {}
        services: dict[str, Any] = state.get("services") or {}
        cache = services.get("response_cache")
        persisted = services.get("persisted")
        cost = services.get("cost")
        self.cache = cache if isinstance(cache, ResponseCache) else None
        self.persisted = persisted if isinstance(persisted, PersistedQueries) else None
        self.cost = cost if isinstance(cost, CostService) else None
        self.max_json_depth: int = getattr(state.get("settings"), "max_json_depth", 32)
        principal = state.get("principal")
        self.principal: Principal = (
            principal if isinstance(principal, Principal) else Principal(client_ip(request))
        )
        self.is_get = request.method == "GET"
        self.bypass = False
        self.if_none_match: str | None = None
        self.content_type: str | None = None
        for name, value in request.scope["headers"]:
            if name in _BYPASS:
                self.bypass = self.bypass or bool(value.strip())
            elif name == b"if-none-match":
                self.if_none_match = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value.decode("latin-1")
        self.single = True
        self.text: str | None = None
        self.operation_name: str | None = None
        self.variables: dict[str, Any] | None = None
        self.snapshot: Snapshot | None = None
        self.key: str | None = None
        self.registration: tuple[str, str] | None = None
        self.etag: str | None = None
        self._flight: asyncio.Future[None] | None = None
        self._token = _current.set(self)

    def close(self) -> None:
        self._land()
        _current.reset(self._token)

    # -- the fast path ---------------------------------------------------------

    async def cached(self) -> Response | None:
        """The cached answer to this request, charged; None to run it normally."""
        cache = self.cache
        if cache is None or cache.store is None or self.bypass:
            return None
        params = await self._params()
        if params is None:
            return None
        query, operation_name, variables, extensions = params
        registration = None
        if self.persisted is not None:
            found = await self.persisted.peek(query, extensions)
            if found is None:
                return None
            text, registration = found
        elif query is None or (extensions or {}).get("persistedQuery"):
            return None
        else:
            text = query
        # A text seen for the first time is parsed here (through the LRU the execution
        # shares) so that a reformatted document finds the entry of its printed form.
        facts = cache.facts(self.gql_schema, text, operation_name)
        if facts is None or not facts.cacheable:
            return None
        snapshot = self.snapshot = await cache.snapshot()
        if snapshot is None:
            return None
        key = self.key = cache.key(self.gql_schema, facts, variables, self.principal)
        entry = await self._lookup(cache, key, snapshot)
        if entry is None:
            # Coalesce: while one request computes this answer, the others with the same
            # key wait for it instead of all running the same operation at once.
            flight = cache.flights.get(key)
            if flight is None:
                self._take_off(cache, key)
                cache.counts["misses"] += 1
                return None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(cache.flight_wait):
                    await asyncio.shield(flight)
            entry = await self._lookup(cache, key, snapshot)
            if entry is None:
                cache.counts["misses"] += 1
                return None
            cache.counts["coalesced"] += 1
        response = await self._serve(entry)
        cache.counts["hits" if response is not None else "throttled_hits"] += 1
        if response is not None and registration is not None:
            await self._register(registration)  # answered: the document is good
        return response

    async def _lookup(self, cache: ResponseCache, key: str, snapshot: Snapshot) -> Entry | None:
        assert cache.store is not None
        entry = await cache.store.get(key, lambda e: snapshot.matches(e.epoch, e.versions))
        if entry is not None and not snapshot.matches(entry.epoch, entry.versions):
            cache.counts["stale"] += 1
            return None
        return entry

    def _take_off(self, cache: ResponseCache, key: str) -> None:
        self._flight = asyncio.get_running_loop().create_future()
        cache.flights[key] = self._flight

    def _land(self) -> None:
        """Wake the requests waiting for this one's answer (stored or not)."""
        flight, self._flight = self._flight, None
        if flight is None:
            return
        flights = self.cache.flights if self.cache is not None else {}
        if self.key is not None and flights.get(self.key) is flight:
            del flights[self.key]
        if not flight.done():
            flight.set_result(None)

    async def _params(self) -> tuple[str | None, str | None, Any, Any] | None:
        """query, operationName, variables, extensions of a single request (else None)."""
        request = self.request
        data: Any
        try:
            if self.is_get:
                q = request.query_params
                data = {"query": q.get("query"), "operationName": q.get("operationName")}
                for member in ("variables", "extensions"):
                    raw = q.get(member)
                    data[member] = self._json(raw) if raw else None
            else:
                media, params = parse_media_type(self.content_type)
                if media != "application/json" or params.get("charset", "utf-8") not in (
                    "utf-8",
                    "utf8",
                ):
                    return None
                data = self._json(await request.body())
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        query, name = data.get("query"), data.get("operationName")
        variables, extensions = data.get("variables"), data.get("extensions")
        if not (
            isinstance(query, str | None)
            and isinstance(name, str | None)
            and isinstance(variables, dict | None)
            and isinstance(extensions, dict | None)
        ):
            return None
        return query, name, variables, extensions

    def _json(self, raw: str | bytes) -> object:
        return decode_json(raw, max_depth=self.max_json_depth)

    async def _serve(self, entry: Entry) -> Response | None:
        """Charge the caller as the original answer was charged, then answer from ``entry``."""
        service = self.cost
        if service is None:
            return None
        principal = self.principal
        tier = service.tier(principal.tier)
        maximum = rounded(service.max_cost(tier))
        enforce = service.config.enforce
        if enforce and entry.requested > maximum:
            return None  # the normal path refuses it with its own error
        decision = await service.reserve(principal.budget_key, principal.tier, entry.requested)
        status = decision.status
        if not decision.allowed and enforce:
            return None  # the normal path answers 429 (nothing was taken)
        reserved = entry.requested if decision.allowed else 0
        charged = reserved
        refund = reserved - entry.actual
        if refund > 0:
            status = await service.refund(principal.budget_key, principal.tier, refund)
            charged = reserved - refund
        op = OperationCost(
            requested=entry.requested,
            maximum=maximum,
            tier=tier,
            actual=entry.actual,
            charged=charged,
            status=status,
        )
        body = b"".join(
            (
                b'{"data":',
                entry.data,
                b',"extensions":',
                encode_json({"cost": op.as_extension()}),
                b"}",
            )
        )
        info = current_request.get()
        if info is not None:
            info.operation_name = entry.operation_name
            info.operation_type = "query"
        self.etag = entry.etag
        response = Response(body, media_type=self.media_type)
        response.raw_headers += [
            (name.lower().encode(), value.encode())
            for name, value in rate_limit_headers(status, charged).items()
        ]
        response.raw_headers.append((b"x-cache", b"hit"))
        return response

    # -- the normal path -------------------------------------------------------

    async def resolve(self, data: GraphQLRequestData, *, batch: bool) -> GraphQLRequestData:
        """Apply APQ / trusted documents to one request object (before execution)."""
        registration = None
        if self.persisted is not None:
            try:
                text, registration = await self.persisted.resolve(data.query, data.extensions)
                data.query = text
            except PersistedQueryError as exc:
                raise PersistedHttpError(exc) from None
        if batch:
            self.single = False
            if registration is not None and _parses(registration[1], self.cache):
                await self._register(registration)
            return data
        self.text, self.operation_name = data.query, data.operation_name
        self.variables = data.variables
        self.registration = registration
        cache = self.cache
        if self.snapshot is None and cache is not None and cache.active and not self.bypass:
            facts = (
                cache.facts(self.gql_schema, data.query, data.operation_name)
                if data.query
                else None
            )
            if facts is not None and facts.cacheable:
                self.snapshot = await cache.snapshot()  # before execution reads anything
        return data

    async def _register(self, registration: tuple[str, str]) -> None:
        if self.persisted is not None:
            await self.persisted.register(*registration)

    async def on_result(self, result: ExecutionResult) -> None:
        """After execution: register the APQ document, store a cacheable answer."""
        if not self.single:
            return
        errors = result.errors or []
        request_error = result.data is None and errors and all(e.path is None for e in errors)
        if self.registration is not None and not request_error:
            await self._register(self.registration)
        cache, text = self.cache, self.text
        if errors or not isinstance(result.data, dict) or cache is None or text is None:
            return
        storing = self.snapshot is not None and not self.bypass
        if not (self.is_get or storing):
            return
        facts = cache.facts(self.gql_schema, text, self.operation_name)
        extensions = result.extensions or {}
        if facts is None or not facts.cacheable or set(extensions) - {"cost"}:
            cache.counts["uncacheable"] += 1
            return
        data = encode_json(result.data)
        self.etag = make_etag(data)
        if storing:
            await self._store(cache, facts, data, extensions.get("cost"))

    async def _store(
        self, cache: ResponseCache, facts: DocumentFacts, data: bytes, cost: Any
    ) -> None:
        assert self.snapshot is not None
        if not isinstance(cost, dict) or cost.get("dryRun") or "fields" in cost:
            return
        requested, actual = cost.get("requestedQueryCost"), cost.get("actualQueryCost")
        if not isinstance(requested, int) or not isinstance(actual, int):
            return
        lifetime = cache.lifetime(facts, self.variables)
        if lifetime <= 0 or len(data) > cache.max_entry_bytes or cache.store is None:
            return
        entry = Entry(
            data=data,
            etag=self.etag or make_etag(data),
            requested=requested,
            actual=actual,
            epoch=self.snapshot.epoch,
            versions=self.snapshot.select(facts.domains),
            expires_at=time.time() + lifetime,
            operation_name=facts.operation_name,
        )
        key = cache.key(self.gql_schema, facts, self.variables, self.principal)
        await cache.store.put(key, entry)
        cache.counts["stores"] += 1
        if key == self.key:
            self._land()  # the waiting requests can have it now

    # -- HTTP caching ----------------------------------------------------------

    def finish(self, response: Response) -> Response:
        """Validators and freshness for GET answers; 304 when the client has this one."""
        if not self.is_get:
            return response
        raw = response.raw_headers  # appended to directly: no header is set twice here
        names = {name for name, _ in raw}
        if response.status_code != 200 or self.etag is None or not self.single:
            if b"cache-control" not in names:
                raw.append((b"cache-control", b"no-store"))
            return response
        scope = "public" if self.principal.is_anonymous else "private"
        max_age = self.cache.http_max_age if self.cache is not None else 0
        freshness = f"max-age={max_age}" if max_age > 0 else "no-cache"
        raw[:] = [(k, v) for k, v in raw if k not in _VALIDATORS]
        raw.append((b"etag", self.etag.encode()))
        raw.append((b"cache-control", f"{scope}, {freshness}".encode()))
        if b"vary" in names:
            for name in VARY:
                response.headers.add_vary_header(name)
        else:
            raw.append((b"vary", _VARY))
        if etag_matches(self.if_none_match, self.etag):
            return _not_modified(raw)
        return response


def _not_modified(raw: list[tuple[bytes, bytes]]) -> Response:
    response = Response(status_code=304)
    response.raw_headers = [(k, v) for k, v in raw if k not in _DROP_ON_304]
    return response


def _parses(text: str, cache: ResponseCache | None) -> bool:
    try:
        parse_document(text, cache.parse_options if cache is not None else None)
    except Exception:
        return False
    return True


def begin_exchange(request: Request, schema: BaseSchema, media_type: str) -> CacheExchange:
    return CacheExchange(request, schema, media_type)


async def persisted_request(data: GraphQLRequestData, *, batch: bool = False) -> GraphQLRequestData:
    """``parse_http_body`` hook: resolve persisted queries for one request object."""
    cx = _current.get()
    return data if cx is None else await cx.resolve(data, batch=batch)


async def remember_result(result: ExecutionResult) -> None:
    """``process_result`` hook: register and cache what the normal path answered."""
    cx = _current.get()
    if cx is not None:
        await cx.on_result(result)


__all__ = [
    "CacheExchange",
    "PersistedHttpError",
    "begin_exchange",
    "etag_matches",
    "make_etag",
    "persisted_request",
    "remember_result",
]
