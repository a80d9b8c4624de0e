"""Coinbase Advanced Trade market data over WebSocket: ``ticker`` + ``heartbeats``.

Protocol facts this adapter is built on (docs.cdp.coinbase.com, websocket
overview and channels):

- the server disconnects a client that has not subscribed within 5 s, and one
  subscribe message names exactly one channel, so :meth:`on_open` sends one
  ``{"type": "subscribe", "product_ids": [...], "channel": ...}`` per channel
  right after connecting (and again after every reconnect);
- quiet channels are closed after 60–90 s, so we always add ``heartbeats``;
  they also give us a liveness signal for the idle timeout;
- every message carries an envelope ``{channel, timestamp, sequence_num,
  events}``. ``sequence_num`` increases by one per message on a connection, so
  a jump means the server dropped messages for us: we emit a
  :class:`SequenceGap` with how many were lost and count it in
  ``stats.extra["sequence_gaps"]``. A ticker update carries the full state of
  its product, so the default policy is to report and continue; with
  ``on_gap="resnapshot"`` the adapter reconnects to get fresh snapshots.
  A number that goes *backwards* is a stale or duplicated message and is
  skipped. Numbering restarts with each connection;
- ticker fields are strings; the 24 h base volume is spelled ``volume_24_h``
  on the wire while much third-party code (and Coinbase REST) says
  ``volume_24h``: both are accepted. ``heartbeat_counter`` is a string in the
  docs and an integer in recorded frames: both are accepted.

Tickers become :class:`~sources.records.MarketQuote` with the product id
(``BTC-USD``) as ``source_id``; the volume is in base units, so it goes to
``base_volume_24h`` (the quote-currency volume is not sent).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sources.errors import SourceDecodeError
from sources.records import MarketQuote
from sources.ws_stream import ReconnectRequested, Sender, StreamPolicy, WsFeed

log = logging.getLogger(__name__)

SOURCE = "coinbase"
DEFAULT_WS_URL = "wss://advanced-trade-ws.coinbase.com"
#: Heartbeats arrive every second; a minute of silence means a dead connection.
IDLE_TIMEOUT_S = 30.0

GapPolicy = Literal["report", "resnapshot"]
_FRACTION = re.compile(r"(\.\d+)")


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Messages ``expected``…``received - 1`` never arrived on this connection."""

    channel: str
    expected: int
    received: int

    @property
    def missed(self) -> int:
        return self.received - self.expected


@dataclass(frozen=True, slots=True)
class Heartbeat:
    counter: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """The server's view of our subscriptions: channel → product ids."""

    channels: dict[str, list[str]]


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp (``2026-04-07T14:30:03.123456789Z``) as aware UTC.

    Coinbase sends up to nanoseconds; Python keeps microseconds, so extra
    fraction digits are dropped before parsing.
    """
    if not isinstance(value, str) or not value:
        raise SourceDecodeError(SOURCE, f"timestamp missing: {value!r}")
    text = _FRACTION.sub(lambda m: m.group(1)[:7], value.strip().replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SourceDecodeError(SOURCE, f"bad timestamp {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dec(row: dict[str, Any], *keys: str, required: bool = False) -> Decimal | None:
    for key in keys:
        raw = row.get(key)
        if raw is None or raw == "":
            continue
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise SourceDecodeError(SOURCE, f"{key} is not a number: {raw!r}") from None
        if not value.is_finite():
            raise SourceDecodeError(SOURCE, f"{key} is not finite: {raw!r}")
        return value
    if required:
        raise SourceDecodeError(SOURCE, f"missing {keys[0]}")
    return None


def parse_ticker(row: dict[str, Any], observed_at: datetime) -> MarketQuote:
    price = _dec(row, "price", required=True)
    assert price is not None
    if price <= 0:
        raise SourceDecodeError(SOURCE, f"non-positive price {price}")
    return MarketQuote(
        source=SOURCE,
        source_id=str(row["product_id"]),
        quote_currency=None,
        price=price,
        observed_at=observed_at,
        base_volume_24h=_dec(row, "volume_24_h", "volume_24h"),
        high_24h=_dec(row, "high_24_h", "high_24h"),
        low_24h=_dec(row, "low_24_h", "low_24h"),
        change_24h=_dec(row, "price_percent_chg_24_h", "price_percentage_change_24h"),
        bid=_dec(row, "best_bid"),
        ask=_dec(row, "best_ask"),
    )


class CoinbaseStream(WsFeed):
    """Tickers (plus heartbeats) for a set of products, with sequence-gap detection."""

    source = SOURCE

    def __init__(
        self,
        product_ids: Sequence[str],
        *,
        url: str = DEFAULT_WS_URL,
        channels: Sequence[str] = ("ticker",),
        on_gap: GapPolicy = "report",
        policy: StreamPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, policy or StreamPolicy(idle_timeout=IDLE_TIMEOUT_S), **kwargs)
        if not product_ids:
            raise ValueError("subscribe to at least one product")
        self.product_ids = list(dict.fromkeys(product_ids))
        self.channels = list(dict.fromkeys([*channels, "heartbeats"]))
        self.on_gap = on_gap
        self._last_seq: int | None = None

    async def on_open(self, ws: Sender) -> Any:
        self._last_seq = None  # numbering restarts on every connection
        for channel in self.channels:
            await ws.send(
                _json({"type": "subscribe", "product_ids": self.product_ids, "channel": channel})
            )
        return tuple(self.channels)

    def parse(self, message: Any) -> Sequence[Any]:
        if not isinstance(message, dict):
            raise SourceDecodeError(SOURCE, f"unexpected frame: {message!r}")
        if message.get("type") == "error":
            self.stats.bump("error_frames")
            log.warning("coinbase stream error: %s", message.get("message"))
            return ()
        channel = str(message.get("channel", ""))
        out: list[Any] = []
        seq = message.get("sequence_num")
        if isinstance(seq, int) and not isinstance(seq, bool):
            gap = self._check_sequence(channel, seq)
            if gap is False:
                return ()
            if gap is not None:
                out.append(gap)
        events = message.get("events") or []
        if channel == "subscriptions":
            for ev in events:
                subs = ev.get("subscriptions") or {}
                out.append(Subscriptions({k: list(v) for k, v in subs.items()}))
        elif channel in ("ticker", "ticker_batch"):
            observed_at = parse_time(message.get("timestamp"))
            for ev in events:
                for row in ev.get("tickers") or []:
                    out.append(parse_ticker(row, observed_at))
        elif channel == "heartbeats":
            for ev in events:
                out.append(
                    Heartbeat(int(ev["heartbeat_counter"]), parse_time(message["timestamp"]))
                )
        else:
            self.stats.bump("ignored_frames")
        return out

    def _check_sequence(self, channel: str, seq: int) -> SequenceGap | Literal[False] | None:
        last = self._last_seq
        if last is not None and seq <= last:
            self.stats.bump("stale_frames")
            return False
        self._last_seq = seq
        if last is not None and seq > last + 1:
            self.stats.bump("sequence_gaps")
            self.stats.bump("missed_messages", seq - last - 1)
            log.warning("coinbase stream: %d message(s) missed before #%d", seq - last - 1, seq)
            if self.on_gap == "resnapshot":
                # The reconnect's fresh snapshots replace whatever this frame said.
                raise ReconnectRequested(f"sequence gap before #{seq}: resnapshot")
            return SequenceGap(channel, last + 1, seq)
        return None


def _json(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


__all__ = [
    "DEFAULT_WS_URL",
    "SOURCE",
    "CoinbaseStream",
    "Heartbeat",
    "SequenceGap",
    "Subscriptions",
    "parse_ticker",
    "parse_time",
]
