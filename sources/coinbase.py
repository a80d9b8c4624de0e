"""Coinbase Advanced Trade public REST: candles and the product list.

``GET /market/products/{id}/candles`` needs no auth, returns at most 350
candles per request, all values as **strings**, ``start`` as Unix seconds
(also a string) and the rows **newest first**. We page long ranges into
350-candle windows and return every range oldest first, keyed by the open
time (``start``); the newest candle, whose end is still in the future, is
marked incomplete. The public limit is about 10 requests/s per IP.

This is the Advanced Trade API, not the older Coinbase *Exchange* API
(``api.exchange.coinbase.com``), whose candles are bare arrays in a different
column order and capped at 300.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from sources.base import HttpSettings, RestAdapter, Wiring
from sources.errors import SourceDecodeError, SourceError, SourceNotFound, SourceRequestError
from sources.http import RateLimit
from sources.records import Batch, CandleRecord, ExchangeMarket, Quarantined
from sources.validate import (
    amount_of,
    as_object,
    check_candle,
    price_of,
    required,
    time_from_s,
)

BASE_URL = "https://api.coinbase.com/api/v3/brokerage"
REQUESTS_PER_SECOND = 10.0
CANDLES_MAX = 350
#: Advanced Trade granularity names by our interval names.
GRANULARITY: Mapping[str, str] = {
    "1m": "ONE_MINUTE",
    "5m": "FIVE_MINUTE",
    "15m": "FIFTEEN_MINUTE",
    "30m": "THIRTY_MINUTE",
    "1h": "ONE_HOUR",
    "2h": "TWO_HOUR",
    "6h": "SIX_HOUR",
    "1d": "ONE_DAY",
}
SECONDS: Mapping[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "6h": 21600,
    "1d": 86400,
}
PRODUCT_RE = re.compile(r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$")


@dataclass(frozen=True, slots=True)
class CoinbaseConfig:
    base_url: str = BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    max_pages: int = 50  # bounds one candles() call to 50 × 350 rows
    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def rate_limit(self) -> RateLimit:
        rps = self.requests_per_second
        return RateLimit(rps, 1.0, burst=max(1.0, rps / 2))


def _error_envelope(response: httpx.Response, body: Any) -> SourceError | None:
    """Map ``{"error": "NOT_FOUND", "message": …}`` envelopes."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    message = f"{body['error']}: {body.get('message') or body.get('error_details') or ''}"
    status = response.status_code
    if body["error"] == "NOT_FOUND" or status == 404:
        return SourceNotFound(Coinbase.source, message[:300], status=status)
    if body["error"] == "INVALID_ARGUMENT" or status == 400:
        return SourceRequestError(Coinbase.source, message[:300], status=status)
    if response.is_success:
        return SourceDecodeError(Coinbase.source, message[:300], status=status)
    return None


class Coinbase(RestAdapter):
    source: ClassVar[str] = "coinbase"

    def __init__(self, config: CoinbaseConfig | None = None, wiring: Wiring | None = None) -> None:
        self.config = config or CoinbaseConfig()
        super().__init__(
            self._client(
                self.config.base_url,
                self.config.http.policy(self.config.rate_limit),
                wiring,
                error_hook=_error_envelope,
            )
        )

    async def products(self) -> Batch[ExchangeMarket]:
        body = await self.client.get_json("/market/products")
        if not isinstance(body, dict) or not isinstance(body.get("products"), list):
            raise SourceDecodeError(self.source, "products reply without a products array")
        return self._markets(
            body["products"],
            symbol="product_id",
            base="base_currency_id",
            quote="quote_currency_id",
        )

    async def candles(
        self, product_id: str, interval: str, start: datetime, end: datetime
    ) -> Batch[CandleRecord]:
        """Candles with open time in ``[start, end)``, oldest first, paged by 350."""
        if interval not in GRANULARITY:
            raise ValueError(f"interval must be one of {tuple(GRANULARITY)}")
        if not PRODUCT_RE.match(product_id):
            raise ValueError(f"not a Coinbase product id: {product_id!r}")
        step = timedelta(seconds=SECONDS[interval])
        window = step * CANDLES_MAX
        good: dict[datetime, CandleRecord] = {}
        bad: list[Quarantined] = []
        cursor = start
        pages = 0
        while cursor < end and pages < self.config.max_pages:
            upto = min(end, cursor + window)
            page = await self._page(product_id, interval, cursor, upto - timedelta(seconds=1))
            good.update((c.open_time, c) for c in page.records if start <= c.open_time < end)
            bad.extend(page.quarantined)
            cursor, pages = upto, pages + 1
        return Batch(tuple(good[k] for k in sorted(good)), tuple(bad))

    async def _page(
        self, product_id: str, interval: str, start: datetime, end: datetime
    ) -> Batch[CandleRecord]:
        params: dict[str, str | int] = {
            "start": int(start.timestamp()),
            "end": int(end.timestamp()),
            "granularity": GRANULARITY[interval],
        }
        body = await self.client.get_json(f"/market/products/{product_id}/candles", params)
        if not isinstance(body, dict) or not isinstance(body.get("candles"), list):
            raise SourceDecodeError(self.source, "candles reply without a candles array")
        step = timedelta(seconds=SECONDS[interval])
        quote = product_id.split("-", 1)[1]
        now = self.clock.now()

        def parse(row: Any) -> CandleRecord:
            obj = as_object(row)
            open_time = time_from_s(required(obj, "start"), "start")
            return check_candle(
                CandleRecord(
                    source=self.source,
                    source_id=product_id,
                    quote_currency=quote,
                    interval=interval,
                    open_time=open_time,
                    open=price_of(required(obj, "open"), "open"),
                    high=price_of(required(obj, "high"), "high"),
                    low=price_of(required(obj, "low"), "low"),
                    close=price_of(required(obj, "close"), "close"),
                    volume=amount_of(required(obj, "volume"), "volume"),
                    is_complete=open_time + step <= now,
                )
            )

        return self._collect("candle", body["candles"], parse)


__all__ = ["Coinbase", "CoinbaseConfig"]
