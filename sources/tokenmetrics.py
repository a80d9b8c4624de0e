"""Token Metrics (optional, needs an API key): trading signals and trader/investor grades.

Records keep their provenance (``source="tokenmetrics"``, the provider's
integer ``token_id``) so they are stored beside our own signals, never mixed
into them. Mapping a ``token_id`` to a canonical asset goes through the
identity override file: a symbol lookup returns several tokens (bridged ETH
variants), so nothing is matched on the ticker.

Format notes: every reply is ``{"success", "message", "length", "data"}``;
key case changed over time (UPPERCASE until 2025, lowercase since), so rows
are read case-insensitively; an empty result is HTTP 404 with ``"Data not
found"`` (returned here as an empty batch, since "no rows in this range" is
not a failure), plan-restricted endpoints answer 401. The auth header was
``api_key`` in the old SDK and is ``x-api-key`` in current tools; the name is
configurable. No rate limit is published ("varies by tier"), so the default
budget is a conservative 20 calls/min. Date ranges are split into ≤29-day
chunks (as the official SDK does) and pages are followed until a short page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from sources.base import HttpSettings, RestAdapter, Wiring
from sources.errors import (
    SourceAuthError,
    SourceDecodeError,
    SourceError,
    SourceNotFound,
    SourcePlanRestricted,
    SourceRequestError,
)
from sources.http import RateLimit
from sources.records import Batch, GradeRecord, SignalRecord, TokenListing
from sources.validate import (
    BadRecord,
    as_object,
    decimal_of,
    int_of,
    optional,
    text_of,
    time_from_iso,
)

BASE_URL = "https://api.tokenmetrics.com/v2"
CALLS_PER_MINUTE = 20.0
CHUNK_DAYS = 29
PAGE_SIZE = 100


class NoData(SourceNotFound):
    """Token Metrics' ``Data not found`` envelope: an empty result, not an error."""


@dataclass(frozen=True, slots=True)
class TokenMetricsConfig:
    api_key: str
    base_url: str = BASE_URL
    auth_header: str = "x-api-key"
    calls_per_minute: float = CALLS_PER_MINUTE
    page_size: int = PAGE_SIZE
    max_pages: int = 20
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("Token Metrics needs an api_key")

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit(self.calls_per_minute, 60.0)


def _error_envelope(response: httpx.Response, body: Any) -> SourceError | None:
    status = response.status_code
    if not isinstance(body, dict):
        return None
    keys = {str(k).lower(): v for k, v in body.items()}
    if keys.get("success") is not False:
        return None
    message = str(keys.get("message") or "unsuccessful reply")[:300]
    lowered = message.lower()
    src = TokenMetrics.source
    if "not found" in lowered and status in (200, 404):
        return NoData(src, message, status=status)
    if status in (401, 403):
        if any(w in lowered for w in ("plan", "upgrade", "subscription", "tier")):
            return SourcePlanRestricted(src, message, status=status)
        return SourceAuthError(src, message, status=status)
    if status == 429 or status >= 500:
        return None
    if status == 404:
        return SourceNotFound(src, message, status=status)
    return SourceRequestError(src, message, status=status)


def lower_keys(row: Any) -> dict[str, Any]:
    """A row with lower-case keys (UPPER and lower eras read alike)."""
    return {str(k).lower(): v for k, v in as_object(row).items()}


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return None


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _signal_value(value: Any, name: str) -> int:
    number = int_of(value, name)
    if number not in (-1, 0, 1):
        raise BadRecord("bad_value", f"{name}={number} not in -1/0/1")
    return number


def _grade(value: Any, name: str) -> Decimal:
    number = decimal_of(value, name)
    if not Decimal(0) <= number <= Decimal(100):
        raise BadRecord("bad_value", f"{name}={number} outside 0..100")
    return number


def _chunks(start: date, end: date) -> list[tuple[date, date]]:
    out = []
    cursor = start
    while cursor <= end:
        upto = min(end, cursor + timedelta(days=CHUNK_DAYS - 1))
        out.append((cursor, upto))
        cursor = upto + timedelta(days=1)
    return out


class TokenMetrics(RestAdapter):
    source: ClassVar[str] = "tokenmetrics"

    def __init__(self, config: TokenMetricsConfig, wiring: Wiring | None = None) -> None:
        self.config = config
        super().__init__(
            self._client(
                config.base_url,
                config.http.policy(config.rate_limit),
                wiring,
                headers={config.auth_header: config.api_key},
                error_hook=_error_envelope,
            )
        )

    async def _rows(self, path: str, params: Mapping[str, str | int]) -> list[Any]:
        """All rows of a paged endpoint (empty on ``Data not found``)."""
        rows: list[Any] = []
        size = self.config.page_size
        for page in range(self.config.max_pages):
            try:
                body = await self.client.get_json(path, {**params, "limit": size, "page": page})
            except NoData:
                break
            data = lower_keys(body).get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise SourceDecodeError(self.source, f"{path}: reply without a data array")
            rows.extend(data)
            if len(data) < size:
                break
        return rows

    async def _ranged(
        self,
        path: str,
        token_ids: Sequence[int],
        start: date,
        end: date,
    ) -> list[Any]:
        rows: list[Any] = []
        for lo, hi in _chunks(start, end):
            params: dict[str, str | int] = {"startDate": lo.isoformat(), "endDate": hi.isoformat()}
            if token_ids:
                params["token_id"] = ",".join(str(t) for t in token_ids)
            rows.extend(await self._rows(path, params))
        return rows

    def _dedupe(self, batch: Batch[Any], key: Any) -> Batch[Any]:
        seen: dict[Any, Any] = {}
        for record in batch.records:
            seen[key(record)] = record
        return Batch(tuple(seen.values()), batch.quarantined)

    async def tokens(self, *, symbols: Sequence[str] = ()) -> Batch[TokenListing]:
        params = {"symbol": ",".join(symbols)} if symbols else {}
        rows = await self._rows("/tokens", params)

        def parse(raw: Any) -> TokenListing:
            row = lower_keys(raw)
            return TokenListing(
                source=self.source,
                token_id=str(int_of(_first(row, "token_id"), "token_id")),
                symbol=text_of(_first(row, "token_symbol", "symbol"), "token_symbol"),
                name=text_of(_first(row, "token_name", "name"), "token_name"),
            )

        return self._collect("token_listing", rows, parse)

    async def trading_signals(
        self, token_ids: Sequence[int], start: date, end: date, *, hourly: bool = False
    ) -> Batch[SignalRecord]:
        path = "/hourly-trading-signals" if hourly else "/trading-signals"
        rows = await self._ranged(path, token_ids, start, end)
        horizon = "1h" if hourly else "1d"

        def parse(raw: Any) -> SignalRecord:
            row = lower_keys(raw)
            return SignalRecord(
                source=self.source,
                source_id=str(int_of(_first(row, "token_id"), "token_id")),
                symbol=_text_or_none(_first(row, "token_symbol", "symbol")),
                observed_at=time_from_iso(_first(row, "date", "timestamp"), "date"),
                horizon=horizon,
                signal=_signal_value(_first(row, "trading_signal"), "trading_signal"),
                trend=optional(_signal_value, _first(row, "token_trend"), "token_trend"),
                signal_returns=optional(
                    decimal_of, _first(row, "trading_signals_returns"), "returns"
                ),
                holding_returns=optional(decimal_of, _first(row, "holding_returns"), "holding"),
                trader_grade=optional(_grade, _first(row, "tm_trader_grade", "tm_grade"), "tg"),
                investor_grade=optional(_grade, _first(row, "tm_investor_grade"), "ig"),
            )

        batch = self._collect("signal", rows, parse)
        return self._dedupe(batch, lambda r: (r.source_id, r.observed_at))

    async def trader_grades(
        self, token_ids: Sequence[int], start: date, end: date
    ) -> Batch[GradeRecord]:
        rows = await self._ranged("/trader-grades", token_ids, start, end)
        return self._grades(rows, "trader", "tm_trader_grade", "tm_trader_grade_24h_pct_change")

    async def investor_grades(
        self, token_ids: Sequence[int], start: date, end: date
    ) -> Batch[GradeRecord]:
        rows = await self._ranged("/investor-grades", token_ids, start, end)
        return self._grades(
            rows, "investor", "tm_investor_grade", "tm_investor_grade_24h_pct_change"
        )

    def _grades(self, rows: list[Any], kind: str, main: str, change: str) -> Batch[GradeRecord]:
        def parse(raw: Any) -> GradeRecord:
            row = lower_keys(raw)
            components = tuple(
                sorted(
                    (k, _grade(v, k))
                    for k, v in row.items()
                    if k.endswith("_grade") and k != main and v is not None
                )
            )
            return GradeRecord(
                source=self.source,
                source_id=str(int_of(_first(row, "token_id"), "token_id")),
                symbol=_text_or_none(_first(row, "token_symbol", "symbol", "token_name")),
                kind=kind,
                observed_at=time_from_iso(_first(row, "date", "timestamp"), "date"),
                grade=_grade(_first(row, main), main),
                change_24h_pct=optional(decimal_of, row.get(change), change),
                components=components,
            )

        batch: Batch[GradeRecord] = self._collect(f"{kind}_grade", rows, parse)
        return self._dedupe(batch, lambda r: (r.source_id, r.observed_at))


__all__ = ["NoData", "TokenMetrics", "TokenMetricsConfig"]
