"""CoinGecko: the identity seed (coin list with platforms), market quotes and history.

What we fetch: ``/coins/list?include_platform=true`` and ``/asset_platforms``
(the identity registry's seed), ``/coins/{id}/tickers`` (the bridge from
exchange codes to CoinGecko ids), ``/coins/markets`` and ``/simple/price``
(quotes), ``/coins/{id}/ohlc`` and ``/coins/{id}/market_chart`` (history).

Plans are configuration, not code: ``public`` (keyless, api.coingecko.com),
``demo`` (same host, ``x-cg-demo-api-key``), ``pro`` (pro-api.coingecko.com,
``x-cg-pro-api-key``). A key sent to the wrong host is an auth error
(10010/10011), which is why host and header follow the plan together.

Gotchas handled here: numbers are JSON floats (parsed as ``Decimal``); OHLC
timestamps are candle **close** times and carry no volume (we shift to the
open time by the candle's length, inferred from the row spacing because the
documented granularity table and real responses disagree); native coins list
platforms as ``{}`` or ``{"": ""}``; symbols are not unique, so everything is
keyed by ``id``.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx

from sources.base import HttpSettings, RestAdapter, Wiring
from sources.errors import SourceAuthError, SourceDecodeError, SourceError, SourcePlanRestricted
from sources.http import RateLimit
from sources.records import (
    INTERVAL_SECONDS,
    AssetPlatform,
    Batch,
    CandleRecord,
    CoinListing,
    ExchangeTicker,
    MarketQuote,
    PricePoint,
)
from sources.validate import (
    BadRecord,
    amount_of,
    as_array,
    as_object,
    check_candle,
    check_quote,
    decimal_of,
    int_of,
    optional,
    price_of,
    required,
    text_of,
    time_from_iso,
    time_from_ms,
    time_from_s,
)

Plan = Literal["public", "demo", "pro"]

PUBLIC_URL = "https://api.coingecko.com/api/v3"
PRO_URL = "https://pro-api.coingecko.com/api/v3"
#: Calls per minute by plan. Public is IP-based and varies (docs: 10–30); Demo is
#: 30 in the older docs and 100 on the current errors page: we take the lower.
DEFAULT_CALLS_PER_MINUTE: Mapping[Plan, float] = {"public": 10, "demo": 30, "pro": 500}
AUTH_CODES = {10001, 10002, 10010, 10011, 1020}
PLAN_CODES = {10005, 10012}
MARKETS_PAGE_MAX = 250
OHLC_DAYS = ("1", "7", "14", "30", "90", "180", "365", "max")
COIN_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,119}$")


def _coin_id(coin_id: str) -> str:
    """A CoinGecko id safe to put in a URL path (ids are lower-case slugs)."""
    if not COIN_ID_RE.match(coin_id) or ".." in coin_id:
        raise ValueError(f"not a CoinGecko id: {coin_id!r}")
    return coin_id


@dataclass(frozen=True, slots=True)
class CoinGeckoConfig:
    plan: Plan = "public"
    api_key: str | None = None
    base_url: str | None = None  # None: the plan's host
    calls_per_minute: float | None = None  # None: the plan's published figure
    http: HttpSettings = field(default_factory=HttpSettings)

    def __post_init__(self) -> None:
        if self.plan != "public" and not self.api_key:
            raise ValueError(f"CoinGecko plan {self.plan!r} needs an api_key")

    @property
    def url(self) -> str:
        return self.base_url or (PRO_URL if self.plan == "pro" else PUBLIC_URL)

    @property
    def headers(self) -> dict[str, str]:
        if self.plan == "public" or not self.api_key:
            return {}
        return {f"x-cg-{self.plan}-api-key": self.api_key}

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit(self.calls_per_minute or DEFAULT_CALLS_PER_MINUTE[self.plan], 60.0)


def _error_envelope(response: httpx.Response, body: Any) -> SourceError | None:
    """Map CoinGecko's ``{"status": {"error_code", "error_message"}}`` envelope."""
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, dict) or "error_code" not in status:
        return None
    code = status.get("error_code")
    message = f"error {code}: {status.get('error_message', '')}"[:300]
    if code in PLAN_CODES:
        return SourcePlanRestricted(CoinGecko.source, message, status=response.status_code)
    if code in AUTH_CODES:
        return SourceAuthError(CoinGecko.source, message, status=response.status_code)
    if response.is_success:  # an error envelope with HTTP 200 is still not data
        return SourceDecodeError(CoinGecko.source, message, status=response.status_code)
    return None  # 429 / 5xx envelopes: the status-based mapping (with Retry-After) applies


def ohlc_interval(days: str, timestamps: Sequence[int]) -> str:
    """The candle length of an OHLC reply.

    The observed spacing of the rows wins (the docs' own example for
    ``days=1`` is 4-hourly although the table says 30 minutes); with fewer
    than two rows we fall back to the documented table: 1–2 days → 30m,
    3–30 → 4h, longer → 4d.
    """
    if len(timestamps) >= 2:
        gaps = [b - a for a, b in itertools.pairwise(timestamps) if b > a]
        if gaps:
            step = int(statistics.median(gaps)) // 1000
            for name, seconds in INTERVAL_SECONDS.items():
                if seconds == step:
                    return name
    if days != "max" and int(days) <= 2:
        return "30m"
    if days != "max" and int(days) <= 30:
        return "4h"
    return "4d"


class CoinGecko(RestAdapter):
    source: ClassVar[str] = "coingecko"

    def __init__(self, config: CoinGeckoConfig, wiring: Wiring | None = None) -> None:
        self.config = config
        super().__init__(
            self._client(
                config.url,
                config.http.policy(config.rate_limit),
                wiring,
                headers=config.headers,
                error_hook=_error_envelope,
            )
        )

    # ------------------------------------------------------------------ identity seed

    async def coins_list(self, *, include_inactive: bool = False) -> Batch[CoinListing]:
        params = {"include_platform": "true"}
        if include_inactive:
            params["status"] = "inactive"
        body = await self.client.get_json("/coins/list", params)
        return self._collect("coin_listing", _array(body), _listing)

    async def asset_platforms(self) -> Batch[AssetPlatform]:
        body = await self.client.get_json("/asset_platforms")
        return self._collect("asset_platform", _array(body), _platform)

    async def coin_tickers(
        self, coin_id: str, exchange_ids: Sequence[str]
    ) -> Batch[ExchangeTicker]:
        params = {"exchange_ids": ",".join(exchange_ids)} if exchange_ids else {}
        body = await self.client.get_json(f"/coins/{_coin_id(coin_id)}/tickers", params)
        tickers = as_object_or_decode(body).get("tickers")
        return self._collect("exchange_ticker", _array(tickers), _ticker)

    # ------------------------------------------------------------------ quotes

    async def markets(
        self,
        vs_currency: str = "usd",
        *,
        ids: Sequence[str] = (),
        page: int = 1,
        per_page: int = MARKETS_PAGE_MAX,
    ) -> Batch[MarketQuote]:
        params: dict[str, str | int] = {
            "vs_currency": vs_currency,
            "order": "market_cap_desc",
            "per_page": min(per_page, MARKETS_PAGE_MAX),
            "page": page,
            "price_change_percentage": "1h,24h,7d",
            "precision": "full",
        }
        if ids:
            params["ids"] = ",".join(ids)
        body = await self.client.get_json("/coins/markets", params)
        fetched = self.clock.now()
        quote = vs_currency.upper()
        return self._collect("market_quote", _array(body), lambda row: _market(row, quote, fetched))

    async def simple_price(
        self, ids: Sequence[str], vs_currency: str = "usd"
    ) -> Batch[MarketQuote]:
        vs = vs_currency.lower()
        params = {
            "ids": ",".join(ids),
            "vs_currencies": vs,
            "include_market_cap": "true",
            "include_24hr_vol": "true",
            "include_24hr_change": "true",
            "include_last_updated_at": "true",
            "precision": "full",
        }
        body = as_object_or_decode(await self.client.get_json("/simple/price", params))
        fetched = self.clock.now()
        return self._collect("market_quote", body.items(), lambda item: _simple(item, vs, fetched))

    # ------------------------------------------------------------------ history

    async def ohlc(
        self, coin_id: str, vs_currency: str = "usd", days: str = "1"
    ) -> Batch[CandleRecord]:
        """Candles re-keyed by their open time; the still-open last one is marked incomplete."""
        if days not in OHLC_DAYS:
            raise ValueError(f"days must be one of {OHLC_DAYS}")
        body = _array(
            await self.client.get_json(
                f"/coins/{_coin_id(coin_id)}/ohlc", {"vs_currency": vs_currency, "days": days}
            )
        )
        stamps = sorted(r[0] for r in body if isinstance(r, list) and r and type(r[0]) is int)
        interval = ohlc_interval(days, stamps)
        step = timedelta(seconds=INTERVAL_SECONDS[interval])
        now = self.clock.now()
        quote = vs_currency.upper()

        def parse(row: Any) -> CandleRecord:
            ts, o, h, lo, c = as_array(row, 5)[:5]
            close_time = time_from_ms(ts, "close_time")
            return check_candle(
                CandleRecord(
                    source=self.source,
                    source_id=coin_id,
                    quote_currency=quote,
                    interval=interval,
                    open_time=close_time - step,
                    open=price_of(o, "open"),
                    high=price_of(h, "high"),
                    low=price_of(lo, "low"),
                    close=price_of(c, "close"),
                    is_complete=close_time <= now,
                )
            )

        return self._collect("candle", body, parse)

    async def market_chart(
        self, coin_id: str, vs_currency: str = "usd", days: str = "1"
    ) -> Batch[PricePoint]:
        """Price history joined with market caps and volumes on the timestamp."""
        body = as_object_or_decode(
            await self.client.get_json(
                f"/coins/{_coin_id(coin_id)}/market_chart",
                {"vs_currency": vs_currency, "days": days},
            )
        )
        caps = _series(body.get("market_caps"))
        vols = _series(body.get("total_volumes"))
        quote = vs_currency.upper()

        def parse(row: Any) -> PricePoint:
            ts, price = as_array(row, 2)[:2]
            return PricePoint(
                source=self.source,
                source_id=coin_id,
                quote_currency=quote,
                ts=time_from_ms(ts, "ts"),
                price=price_of(price, "price"),
                market_cap=optional(amount_of, caps.get(ts), "market_cap"),
                volume_24h=optional(amount_of, vols.get(ts), "total_volume"),
            )

        return self._collect("price_point", _array(body.get("prices")), parse)


# ---------------------------------------------------------------------------- parsing


def _array(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise SourceDecodeError(
            CoinGecko.source, f"expected a JSON array, got {type(body).__name__}"
        )
    return body


def as_object_or_decode(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise SourceDecodeError(
            CoinGecko.source, f"expected a JSON object, got {type(body).__name__}"
        )
    return body


def _series(rows: Any) -> dict[Any, Any]:
    """``[[ms, value], …]`` as ``{ms: value}``, skipping malformed pairs (checked on use)."""
    if not isinstance(rows, list):
        return {}
    return {r[0]: r[1] for r in rows if isinstance(r, list) and len(r) >= 2}


def _listing(row: Any) -> CoinListing:
    obj = as_object(row)
    platforms = obj.get("platforms") or {}
    if not isinstance(platforms, dict):
        raise BadRecord("wrong_type", "platforms is not an object")
    pairs = tuple(
        sorted(
            (str(k), v.strip())
            for k, v in platforms.items()
            if k and isinstance(v, str) and v.strip()
        )
    )
    return CoinListing(
        id=text_of(required(obj, "id"), "id"),
        symbol=text_of(required(obj, "symbol"), "symbol"),
        name=text_of(required(obj, "name"), "name"),
        platforms=pairs,
    )


def _platform(row: Any) -> AssetPlatform:
    obj = as_object(row)
    chain = obj.get("chain_identifier")
    return AssetPlatform(
        id=text_of(required(obj, "id"), "id"),
        chain_identifier=None if chain is None else int_of(chain, "chain_identifier"),
        name=text_of(required(obj, "name"), "name"),
        shortname=obj.get("shortname") or None,
        native_coin_id=obj.get("native_coin_id") or None,
    )


def _ticker(row: Any) -> ExchangeTicker:
    obj = as_object(row)
    market = obj.get("market")
    exchange = market.get("identifier") if isinstance(market, dict) else None
    return ExchangeTicker(
        exchange=text_of(exchange, "market.identifier"),
        base=text_of(required(obj, "base"), "base").upper(),
        target=text_of(required(obj, "target"), "target").upper(),
        coin_id=obj.get("coin_id") or None,
        target_coin_id=obj.get("target_coin_id") or None,
    )


def _pct(obj: Mapping[str, Any], *keys: str) -> Decimal | None:
    for key in keys:
        if obj.get(key) is not None:
            return decimal_of(obj[key], key)
    return None


def _market(row: Any, quote: str, fetched: datetime) -> MarketQuote:
    obj = as_object(row)
    updated = obj.get("last_updated")
    rank = obj.get("market_cap_rank")
    return check_quote(
        MarketQuote(
            source=CoinGecko.source,
            source_id=text_of(required(obj, "id"), "id"),
            quote_currency=quote,
            price=price_of(required(obj, "current_price"), "current_price"),
            # Legacy rows without last_updated are stamped with our fetch time.
            observed_at=fetched if updated is None else time_from_iso(updated, "last_updated"),
            volume_24h=optional(amount_of, obj.get("total_volume"), "total_volume"),
            market_cap=optional(amount_of, obj.get("market_cap"), "market_cap"),
            high_24h=optional(price_of, obj.get("high_24h"), "high_24h"),
            low_24h=optional(price_of, obj.get("low_24h"), "low_24h"),
            change_1h=_pct(obj, "price_change_percentage_1h_in_currency"),
            change_24h=_pct(
                obj, "price_change_percentage_24h_in_currency", "price_change_percentage_24h"
            ),
            change_7d=_pct(obj, "price_change_percentage_7d_in_currency"),
            circulating_supply=optional(amount_of, obj.get("circulating_supply"), "circ"),
            total_supply=optional(amount_of, obj.get("total_supply"), "total_supply"),
            max_supply=optional(amount_of, obj.get("max_supply"), "max_supply"),
            symbol=obj.get("symbol") if isinstance(obj.get("symbol"), str) else None,
            name=obj.get("name") if isinstance(obj.get("name"), str) else None,
            rank=None if rank is None else int_of(rank, "market_cap_rank"),
        )
    )


def _simple(item: tuple[str, Any], vs: str, fetched: datetime) -> MarketQuote:
    coin_id, raw = item
    obj = as_object(raw)
    updated = obj.get("last_updated_at")
    return MarketQuote(
        source=CoinGecko.source,
        source_id=coin_id,
        quote_currency=vs.upper(),
        price=price_of(required(obj, vs), vs),
        observed_at=fetched if updated is None else time_from_s(updated, "last_updated_at"),
        volume_24h=optional(amount_of, obj.get(f"{vs}_24h_vol"), "24h_vol"),
        market_cap=optional(amount_of, obj.get(f"{vs}_market_cap"), "market_cap"),
        change_24h=_pct(obj, f"{vs}_24h_change"),
    )


__all__ = ["CoinGecko", "CoinGeckoConfig", "ohlc_interval"]
