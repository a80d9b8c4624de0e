"""Read-side tunables of the graph, resolved once from settings.

The values live in ``app.settings`` (section "graph reads"); this frozen copy
travels in the request context so resolvers never import the app layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Protocol

#: Quote currencies that are tokens, and the canonical asset whose USD price
#: is their conversion rate. USD itself needs no rate; anything not listed
#: here is never converted.
DEFAULT_QUOTE_CURRENCY_ASSETS: Mapping[str, str] = MappingProxyType(
    {
        "USDT": "tether",
        "USDC": "usd-coin",
        "DAI": "dai",
        "FDUSD": "first-digital-usd",
        "BUSD": "binance-usd",
        "TUSD": "true-usd",
    }
)


class GraphSettings(Protocol):
    """The settings fields :meth:`GraphConfig.from_settings` reads."""

    stale_after_seconds: int
    stale_after_seconds_by_source: dict[str, int]
    quote_max_age_seconds: int
    max_page_size: int
    signal_max_age_seconds: int
    metric_max_age_seconds: int
    consensus_mad_threshold: Decimal
    consensus_min_deviation: Decimal
    quote_currency_assets: dict[str, str]


@dataclass(frozen=True, slots=True)
class GraphConfig:
    """Freshness thresholds, look-back windows and the consensus rule's parameters.

    * ``stale_after_seconds`` (+ per-source overrides): a per-source quote
      older than this at the instant is stale (excluded from the median while
      any fresh quote exists).
    * ``quote_max_age_seconds``: how far back each source's latest quote is
      looked for; older quotes are never shown (a source silent for longer is
      gone, not stale).
    * ``max_page_size``: the largest ``first`` a list field accepts.
    * ``signal_max_age_seconds`` / ``metric_max_age_seconds``: how far back
      the latest signal / chain metric is searched.
    * ``consensus_mad_threshold`` / ``consensus_min_deviation``: the outlier
      rule (see ``resolvers.consensus``).
    """

    stale_after_seconds: int = 300
    stale_after_seconds_by_source: Mapping[str, int] = field(default_factory=dict)
    quote_max_age_seconds: int = 7 * 86400
    max_page_size: int = 250
    signal_max_age_seconds: int = 3 * 86400
    metric_max_age_seconds: int = 86400
    consensus_mad_threshold: Decimal = Decimal("3.5")
    consensus_min_deviation: Decimal = Decimal("0.001")
    quote_currency_assets: Mapping[str, str] = field(
        default_factory=lambda: DEFAULT_QUOTE_CURRENCY_ASSETS
    )

    def stale_after(self, source: str) -> int:
        return self.stale_after_seconds_by_source.get(source, self.stale_after_seconds)

    @classmethod
    def cached(cls, s: GraphSettings) -> GraphConfig:
        """``from_settings``, built once per settings object (settings never change)."""
        hit = _CACHE.get(id(s))
        if hit is not None and hit[0] is s:
            return hit[1]
        made = cls.from_settings(s)
        if len(_CACHE) > 64:  # test suites build many settings objects
            _CACHE.clear()
        _CACHE[id(s)] = (s, made)
        return made

    @classmethod
    def from_settings(cls, s: GraphSettings) -> GraphConfig:
        return cls(
            stale_after_seconds=s.stale_after_seconds,
            stale_after_seconds_by_source=MappingProxyType(dict(s.stale_after_seconds_by_source)),
            quote_max_age_seconds=s.quote_max_age_seconds,
            max_page_size=s.max_page_size,
            signal_max_age_seconds=s.signal_max_age_seconds,
            metric_max_age_seconds=s.metric_max_age_seconds,
            consensus_mad_threshold=s.consensus_mad_threshold,
            consensus_min_deviation=s.consensus_min_deviation,
            quote_currency_assets=MappingProxyType(
                {k.upper(): v for k, v in s.quote_currency_assets.items()}
            ),
        )


_CACHE: dict[int, tuple[object, GraphConfig]] = {}
