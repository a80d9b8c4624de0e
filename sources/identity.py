"""Canonical identity: from the sources' mapping data to the registry rows to upsert.

The canonical id of an asset is its **CoinGecko id** (``bitcoin``,
``usd-coin``); every token deployment also gets its **CAIP-19** id
(``eip155:1/erc20:0xa0b8…``) as an alias, and native coins get theirs from the
override file (``eip155:1/slip44:60``). The inputs are all mapping data the
providers publish about themselves:

- ``/coins/list?include_platform=true`` → assets and their contracts per
  platform;
- ``/asset_platforms`` → platform id → EVM chain id (``chain_identifier``), so
  a contract becomes ``eip155:<chainId>/erc20:<address>``; non-EVM platforms
  need a CAIP-2 entry in the override file, else they are reported;
- exchange market lists (Binance ``exchangeInfo``, Coinbase ``products``) →
  each market's base and quote *currency codes*;
- CoinGecko ``/coins/{id}/tickers`` rows → which CoinGecko id an exchange's
  currency code denotes on that exchange (the authoritative bridge);
- ``sources/data/identity_overrides.json`` → the reviewed facts the above do
  not give (see its ``_about``).

**Nothing is matched on a ticker alone.** An exchange code resolves only
through the override file or the tickers bridge; when the bridge names two
CoinGecko ids for one code, the code is reported as ambiguous, not guessed.
Symbols shared by several assets stay several assets; a bare symbol means one
of them only where ``preferred_symbols`` says so. Quote currencies are
explicit: ``USDT`` is the asset ``tether``, ``USD`` is fiat, and a market's
quote is stored as given so conversion between them is a deliberate step.

:func:`build_registry` is pure (no I/O): given the inputs it returns the rows to
upsert and everything it could not resolve, so the ingest layer can store the
former and log the latter.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sources.records import AssetPlatform, CoinListing, ExchangeMarket, ExchangeTicker

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
ACTIVE_MARKET_STATUSES = {"TRADING", "ONLINE"}


# ---------------------------------------------------------------------------- overrides


@dataclass(frozen=True, slots=True)
class ChainOverride:
    caip2: str
    name: str
    native_coin_id: str | None = None
    asset_namespace: str = "token"


def _str_map(data: Any, where: str) -> dict[str, str]:
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"identity overrides: {where} must map strings to strings")
    return dict(data)


def _nested(data: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise ValueError(f"identity overrides: {where} must be an object")
    return {str(k): _str_map(v, f"{where}.{k}") for k, v in data.items()}


@dataclass(frozen=True, slots=True)
class Overrides:
    """The parsed override file (all keys optional)."""

    coingecko_exchange_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fiat: frozenset[str] = frozenset({"USD", "EUR"})
    exchange_assets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    chains: Mapping[str, ChainOverride] = field(default_factory=dict)
    native_caip19: Mapping[str, str] = field(default_factory=dict)
    contracts: Mapping[str, str] = field(default_factory=dict)
    preferred_symbols: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()
    decimals: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Overrides:
        chains: dict[str, ChainOverride] = {}
        for pid, raw in dict(data.get("chains") or {}).items():
            if not isinstance(raw, dict) or not isinstance(raw.get("caip2"), str):
                raise ValueError(f"identity overrides: chains.{pid} needs a caip2 string")
            chains[pid] = ChainOverride(
                caip2=raw["caip2"],
                name=str(raw.get("name") or pid),
                native_coin_id=raw.get("native_coin_id"),
                asset_namespace=str(raw.get("asset_namespace") or "token"),
            )
        decimals = dict(data.get("decimals") or {})
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in decimals.values()):
            raise ValueError("identity overrides: decimals must map CAIP-19 ids to integers")
        exchange_ids = dict(data.get("coingecko_exchange_ids") or {})
        return cls(
            coingecko_exchange_ids={k: tuple(v) for k, v in exchange_ids.items()},
            fiat=frozenset(c.upper() for c in data.get("fiat_currencies") or ("USD", "EUR")),
            exchange_assets={
                src: {code.upper(): cid for code, cid in codes.items()}
                for src, codes in _nested(
                    data.get("exchange_assets") or {}, "exchange_assets"
                ).items()
            },
            aliases=_nested(data.get("aliases") or {}, "aliases"),
            chains=chains,
            native_caip19=_str_map(data.get("native_caip19") or {}, "native_caip19"),
            contracts={
                k.lower(): v for k, v in _str_map(data.get("contracts") or {}, "contracts").items()
            },
            preferred_symbols={
                k.upper(): v
                for k, v in _str_map(data.get("preferred_symbols") or {}, "preferred").items()
            },
            kinds=_str_map(data.get("kinds") or {}, "kinds"),
            exclude=frozenset(data.get("exclude") or ()),
            decimals={k.lower(): v for k, v in decimals.items()},
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Overrides:
        """The packaged override file, or the one at ``path``."""
        if path is None:
            text = (
                resources.files("sources")
                .joinpath("data/identity_overrides.json")
                .read_text("utf-8")
            )
        else:
            text = Path(path).read_text("utf-8")
        return cls.from_dict(json.loads(text))


# ---------------------------------------------------------------------------- output rows


@dataclass(frozen=True, slots=True)
class AssetRow:
    canonical_id: str
    symbol: str
    name: str
    kind: str  # coin | token | stablecoin
    native_chain_id: str | None = None


@dataclass(frozen=True, slots=True)
class AliasRow:
    source: str
    external_id: str
    canonical_id: str


@dataclass(frozen=True, slots=True)
class ChainRow:
    id: str  # the CoinGecko platform id, e.g. "ethereum", "arbitrum-one"
    name: str
    caip2: str
    evm_chain_id: int | None
    native_canonical_id: str | None


@dataclass(frozen=True, slots=True)
class ContractRow:
    canonical_id: str
    chain_id: str
    address: str  # lower-case for EVM, as given elsewhere
    caip19: str
    decimals: int | None


@dataclass(frozen=True, slots=True)
class MarketRow:
    source: str
    symbol: str
    base_canonical_id: str
    quote_currency: str  # the exchange's code, e.g. "USDT" — never rewritten to "USD"
    quote_canonical_id: str | None  # the quote *asset* (tether); None for fiat
    quote_is_fiat: bool
    active: bool


@dataclass(frozen=True, slots=True)
class Unresolved:
    """Something the mapping data could not pin down; never guessed."""

    kind: str  # listing | platform | contract | market | quote | alias | symbol
    source: str
    key: str
    reason: str
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IdentityPlan:
    assets: tuple[AssetRow, ...]
    aliases: tuple[AliasRow, ...]
    chains: tuple[ChainRow, ...]
    contracts: tuple[ContractRow, ...]
    markets: tuple[MarketRow, ...]
    unresolved: tuple[Unresolved, ...]
    #: symbol (upper-case) → every canonical id that uses it, when more than one does
    ambiguous_symbols: Mapping[str, tuple[str, ...]]
    #: symbol → the canonical id a bare symbol means (override file only)
    preferred_symbols: Mapping[str, str]

    def unresolved_of(self, kind: str) -> list[Unresolved]:
        return [u for u in self.unresolved if u.kind == kind]


# ---------------------------------------------------------------------------- building


def caip19_token(caip2: str, namespace: str, address: str) -> str:
    return f"{caip2}/{namespace}:{address}"


class _Builder:
    def __init__(self, overrides: Overrides) -> None:
        self.o = overrides
        self.unresolved: list[Unresolved] = []
        self.assets: dict[str, AssetRow] = {}
        self.chains: dict[str, ChainRow] = {}
        self.contracts: list[ContractRow] = []
        self.aliases: dict[tuple[str, str], AliasRow] = {}
        self._chain_by_platform: dict[str, tuple[str, str, bool]] = {}  # id → caip2, ns, evm

    def report(
        self, kind: str, source: str, key: str, reason: str, cands: Iterable[str] = ()
    ) -> None:
        self.unresolved.append(Unresolved(kind, source, key, reason, tuple(sorted(cands))))

    def add_alias(self, source: str, external_id: str, canonical_id: str) -> None:
        key = (source, external_id)
        existing = self.aliases.get(key)
        if existing is not None and existing.canonical_id != canonical_id:
            self.report(
                "alias", source, external_id, "claimed by two assets",
                (existing.canonical_id, canonical_id),
            )  # fmt: skip
            return
        self.aliases[key] = AliasRow(source, external_id, canonical_id)

    # -- chains

    def chains_from(self, platforms: Sequence[AssetPlatform]) -> None:
        by_caip2: dict[str, str] = {}
        for p in sorted(platforms, key=lambda p: p.id):
            if p.chain_identifier is not None:
                caip2, ns, evm = f"eip155:{p.chain_identifier}", "erc20", True
            elif p.id in self.o.chains:
                c = self.o.chains[p.id]
                caip2, ns, evm = c.caip2, c.asset_namespace, False
            else:
                continue  # reported lazily, only if a listing has a contract on it
            if caip2 in by_caip2:
                self.report("platform", "coingecko", p.id, f"{caip2} already is {by_caip2[caip2]}")
                continue
            by_caip2[caip2] = p.id
            self._chain_by_platform[p.id] = (caip2, ns, evm)
            native = p.native_coin_id or (
                self.o.chains[p.id].native_coin_id if p.id in self.o.chains else None
            )
            self.chains[p.id] = ChainRow(p.id, p.name, caip2, p.chain_identifier, native)
        for pid, c in self.o.chains.items():
            if pid not in self.chains and c.caip2 not in by_caip2:
                by_caip2[c.caip2] = pid
                self._chain_by_platform[pid] = (c.caip2, c.asset_namespace, False)
                self.chains[pid] = ChainRow(pid, c.name, c.caip2, None, c.native_coin_id)

    def _native_chains(self) -> dict[str, str]:
        """coin id → the chain it is native to.

        CoinGecko names ``ethereum`` the native coin of every L2 too; the home
        chain is the platform with the coin's own id, else the lowest EVM id.
        """
        by_coin: dict[str, list[ChainRow]] = defaultdict(list)
        for chain in self.chains.values():
            if chain.native_canonical_id:
                by_coin[chain.native_canonical_id].append(chain)
        return {
            coin: min(
                rows,
                key=lambda c: (c.id != coin, c.evm_chain_id is None, c.evm_chain_id or 0, c.id),
            ).id
            for coin, rows in by_coin.items()
        }

    # -- assets and contracts

    def assets_from(self, listings: Sequence[CoinListing], platform_ids: set[str]) -> None:
        natives = self._native_chains()
        claims: dict[str, list[ContractRow]] = defaultdict(list)
        unmapped_platforms: dict[str, int] = defaultdict(int)
        for listing in sorted(listings, key=lambda c: c.id):
            cid = listing.id
            if cid in self.o.exclude:
                continue
            if cid in self.assets:
                self.report("listing", "coingecko", cid, "listed twice")
                continue
            native = natives.get(cid)
            kind = self.o.kinds.get(cid) or (
                "token" if listing.platforms and not native else "coin"
            )
            self.assets[cid] = AssetRow(cid, listing.symbol.upper(), listing.name, kind, native)
            self.add_alias("coingecko", cid, cid)
            for platform_id, address in listing.platforms:
                chain = self._chain_by_platform.get(platform_id)
                if chain is None:
                    unmapped_platforms[platform_id] += 1
                    continue
                caip2, ns, evm = chain
                if evm:
                    if not EVM_ADDRESS.match(address):
                        self.report(
                            "contract",
                            "coingecko",
                            f"{cid}@{platform_id}",
                            f"not an EVM address: {address[:60]}",
                        )
                        continue
                    address = address.lower()
                caip19 = caip19_token(caip2, ns, address)
                key = caip19.lower() if evm else caip19
                claims[key].append(
                    ContractRow(
                        cid, platform_id, address, caip19, self.o.decimals.get(caip19.lower())
                    )
                )
        for pid, n in sorted(unmapped_platforms.items()):
            known = pid in platform_ids
            reason = (
                f"non-EVM platform without a CAIP-2 entry in the override file ({n} contracts)"
                if known
                else f"platform not in /asset_platforms ({n} contracts)"
            )
            self.report("platform", "coingecko", pid, reason)
        for caip19, rows in sorted(claims.items()):
            owners = {r.canonical_id for r in rows}
            if len(owners) > 1:
                chosen = self.o.contracts.get(caip19.lower())
                if chosen not in owners:
                    self.report(
                        "contract", "coingecko", caip19, "claimed by several CoinGecko ids", owners
                    )
                    continue
                rows = [r for r in rows if r.canonical_id == chosen]
            row = rows[0]
            self.contracts.append(row)
            self.add_alias("caip19", row.caip19, row.canonical_id)
        for cid, caip19 in sorted(self.o.native_caip19.items()):
            if cid in self.assets:
                self.add_alias("caip19", caip19, cid)

    # -- aliases from the override file

    def override_aliases(self) -> None:
        for source, mapping in sorted(self.o.aliases.items()):
            for external_id, cid in sorted(mapping.items()):
                if cid not in self.assets:
                    self.report("alias", source, external_id, f"override names unknown id {cid!r}")
                    continue
                self.add_alias(source, external_id, cid)

    # -- exchange markets

    def bridge(self, tickers: Sequence[ExchangeTicker]) -> dict[str, dict[str, set[str]]]:
        """source → exchange code → CoinGecko ids the tickers say it denotes."""
        by_cg_exchange: dict[str, list[ExchangeTicker]] = defaultdict(list)
        for t in tickers:
            by_cg_exchange[t.exchange].append(t)
        out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        sources = set(self.o.coingecko_exchange_ids) | set(by_cg_exchange)
        for source in sources:
            for cg_exchange in self.o.coingecko_exchange_ids.get(source, (source,)):
                for t in by_cg_exchange.get(cg_exchange, ()):
                    if t.coin_id:
                        out[source][t.base.upper()].add(t.coin_id)
                    if t.target_coin_id:
                        out[source][t.target.upper()].add(t.target_coin_id)
        return out

    def resolve_code(
        self, source: str, code: str, bridge: Mapping[str, Mapping[str, set[str]]]
    ) -> tuple[str | None, str, tuple[str, ...]]:
        """(canonical id or None, reason, candidates) for an exchange currency code."""
        override = self.o.exchange_assets.get(source, {}).get(code)
        if override is not None:
            if override in self.assets:
                return override, "", ()
            return None, f"override names unknown id {override!r}", ()
        candidates = bridge.get(source, {}).get(code, set())
        known = {c for c in candidates if c in self.assets}
        if len(known) == 1:
            return next(iter(known)), "", ()
        if len(known) > 1:
            return None, "the tickers bridge names several ids", tuple(sorted(known))
        if candidates:
            return (
                None,
                "the tickers bridge names ids not in the coin list",
                tuple(sorted(candidates)),
            )
        return None, "no mapping data (tickers bridge or override)", ()

    def markets_from(
        self, markets: Sequence[ExchangeMarket], tickers: Sequence[ExchangeTicker]
    ) -> list[MarketRow]:
        bridge = self.bridge(tickers)
        rows: list[MarketRow] = []
        seen: set[tuple[str, str]] = set()
        for m in sorted(markets, key=lambda m: (m.source, m.symbol)):
            if (m.source, m.symbol) in seen:
                continue
            seen.add((m.source, m.symbol))
            base, reason, cands = self.resolve_code(m.source, m.base.upper(), bridge)
            if base is None:
                self.report("market", m.source, m.symbol, f"base {m.base}: {reason}", cands)
                continue
            quote_code = m.quote.upper()
            is_fiat = quote_code in self.o.fiat
            quote_id = None
            if not is_fiat:
                quote_id, reason, cands = self.resolve_code(m.source, quote_code, bridge)
                if quote_id is None:
                    self.report("quote", m.source, m.symbol, f"quote {m.quote}: {reason}", cands)
            active = m.status is None or m.status.upper() in ACTIVE_MARKET_STATUSES
            rows.append(MarketRow(m.source, m.symbol, base, quote_code, quote_id, is_fiat, active))
        return rows

    # -- symbols

    def symbols(self) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for a in self.assets.values():
            groups[a.symbol].append(a.canonical_id)
        ambiguous = {s: tuple(sorted(ids)) for s, ids in sorted(groups.items()) if len(ids) > 1}
        preferred: dict[str, str] = {}
        for symbol, cid in sorted(self.o.preferred_symbols.items()):
            if cid in groups.get(symbol, ()):
                preferred[symbol] = cid
            else:
                self.report("symbol", "overrides", symbol, f"preferred id {cid!r} does not use it")
        return ambiguous, preferred


def build_registry(
    listings: Sequence[CoinListing],
    platforms: Sequence[AssetPlatform],
    markets: Sequence[ExchangeMarket] = (),
    tickers: Sequence[ExchangeTicker] = (),
    overrides: Overrides | None = None,
) -> IdentityPlan:
    """The registry rows to upsert, and what could not be resolved (see the module doc).

    Deterministic: the same inputs give the same rows in the same order.
    Exchange market symbols are *markets*, not asset aliases: they appear only
    as :class:`MarketRow` (base and quote asset), never in ``aliases``.
    """
    b = _Builder(overrides or Overrides())
    b.chains_from(platforms)
    b.assets_from(listings, {p.id for p in platforms})
    b.override_aliases()
    market_rows = b.markets_from(markets, tickers)
    ambiguous, preferred = b.symbols()
    return IdentityPlan(
        assets=tuple(b.assets.values()),
        aliases=tuple(b.aliases.values()),
        chains=tuple(b.chains.values()),
        contracts=tuple(b.contracts),
        markets=tuple(market_rows),
        unresolved=tuple(b.unresolved),
        ambiguous_symbols=ambiguous,
        preferred_symbols=preferred,
    )


__all__ = [
    "AliasRow",
    "AssetRow",
    "ChainOverride",
    "ChainRow",
    "ContractRow",
    "IdentityPlan",
    "MarketRow",
    "Overrides",
    "Unresolved",
    "build_registry",
    "caip19_token",
]
