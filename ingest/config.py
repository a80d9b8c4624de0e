"""What the ingest runner needs to know, as one frozen value.

Built from the app settings by ``app.ingest_component`` (and the CLI), so this
package never reads configuration itself and tests can construct it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["auto", "real", "simulated"]

DEFAULT_ASSETS: tuple[str, ...] = (
    "bitcoin",
    "ethereum",
    "tether",
    "binancecoin",
    "solana",
    "usd-coin",
    "ripple",
    "cardano",
    "dogecoin",
)


@dataclass(frozen=True, slots=True)
class RealSources:
    """Public endpoints used by default (all keyless) and their schedules in seconds."""

    coingecko_url: str = "https://api.coingecko.com/api/v3"
    binance_url: str = "https://data-api.binance.vision"
    coinbase_url: str = "https://api.coinbase.com/api/v3/brokerage"
    ethereum_rpc_url: str = "https://ethereum-rpc.publicnode.com"
    enabled: tuple[str, ...] = ("coingecko", "binance", "coinbase", "ethereum")
    schedule: dict[str, float] = field(
        default_factory=lambda: {
            "coingecko": 60.0,
            "binance": 10.0,
            "coinbase": 30.0,
            "ethereum": 12.0,
            "identity": 6 * 3600.0,
        }
    )
    #: How far back a candle stream starts when it has no cursor yet.
    initial_candle_hours: int = 24


@dataclass(frozen=True, slots=True)
class SimulatedOptions:
    seed: int = 42
    tick_seconds: float = 1.0
    history_days: int = 14
    minute_hours: int = 2


@dataclass(frozen=True, slots=True)
class SignalOptions:
    intervals: tuple[str, ...] = ("1h",)
    source_priority: tuple[str, ...] = ("binance", "coinbase", "coingecko", "simulated:alpha")
    window: int = 300


@dataclass(frozen=True, slots=True)
class IngestConfig:
    mode: Mode = "auto"
    assets: tuple[str, ...] = DEFAULT_ASSETS
    probe_timeout: float = 3.0
    real: RealSources = field(default_factory=RealSources)
    simulated: SimulatedOptions = field(default_factory=SimulatedOptions)
    signals: SignalOptions = field(default_factory=SignalOptions)


__all__ = [
    "DEFAULT_ASSETS",
    "IngestConfig",
    "Mode",
    "RealSources",
    "SignalOptions",
    "SimulatedOptions",
]
