"""Storing the asset registry: assets, their per-source ids, markets, chains and contracts.

A registry is described by plain specs (whatever produced them: the simulated
market's seed, an identity mapping built from CoinGecko's lists, an imported
file) and written in one transaction in dependency order: assets, then chains
(which point at their native asset), then everything that points at both.
Every step is an upsert, so seeding at each start-up is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sources import simulated
from storage.records import ChainRecord, ContractRecord
from storage.repositories import ingest as repo


@dataclass(frozen=True, slots=True)
class AssetSpec:
    canonical_id: str
    symbol: str
    name: str
    kind: str = "coin"
    rank: int | None = None
    native_chain_id: str | None = None
    categories: tuple[str, ...] = ()
    #: ``(source, the source's own id)`` pairs, e.g. ``("coingecko", "bitcoin")``.
    aliases: tuple[tuple[str, str], ...] = ()
    #: ``(source, market symbol, quote currency)`` for exchange pairs based on this asset.
    markets: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ChainSpec:
    id: str
    name: str
    caip2: str
    evm_chain_id: int | None = None
    native_asset: str | None = None


@dataclass(frozen=True, slots=True)
class ContractSpec:
    asset: str
    chain_id: str
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class Registry:
    assets: tuple[AssetSpec, ...] = ()
    chains: tuple[ChainSpec, ...] = ()
    contracts: tuple[ContractSpec, ...] = ()


async def store_registry(session: AsyncSession, registry: Registry) -> dict[str, int]:
    """Upsert the registry inside the caller's transaction; returns ``{canonical_id: id}``."""
    ids = await repo.upsert_assets(
        session,
        [
            repo.AssetRow(a.canonical_id, a.symbol, a.name, a.kind, a.rank, a.native_chain_id)
            for a in registry.assets
        ],
    )
    wanted = {c.native_asset for c in registry.chains} | {c.asset for c in registry.contracts}
    unknown = [cid for cid in wanted if cid is not None and cid not in ids]
    ids.update(await repo.asset_ids_by_canonical(session, unknown))
    await repo.upsert_chains(
        session,
        [
            ChainRecord(c.id, c.name, c.caip2, c.evm_chain_id, ids.get(c.native_asset or "", None))
            for c in registry.chains
        ],
    )
    await repo.upsert_contracts(
        session,
        [
            ContractRecord(ids[c.asset], c.chain_id, c.address, c.decimals)
            for c in registry.contracts
            if c.asset in ids
        ],
    )
    await repo.upsert_aliases(
        session,
        [
            repo.AliasRow(ids[a.canonical_id], source, ext)
            for a in registry.assets
            for source, ext in a.aliases
        ],
    )
    await repo.upsert_markets(
        session,
        [
            repo.MarketRow(source, symbol, ids[a.canonical_id], quote)
            for a in registry.assets
            for source, symbol, quote in a.markets
        ],
    )
    await repo.upsert_categories(
        session, [(ids[a.canonical_id], cat) for a in registry.assets for cat in a.categories]
    )
    return ids


def simulated_registry(
    market: simulated.SimulatedMarket, assets: Sequence[str] | None = None
) -> Registry:
    """The simulated market's seed: its assets, a market per venue, Ethereum and two tokens."""
    chosen = [a for a in market.assets if assets is None or a.canonical_id in assets]
    natives = {c.native_asset: c.id for c in simulated.CHAINS}
    specs = tuple(
        AssetSpec(
            canonical_id=a.canonical_id,
            symbol=a.symbol,
            name=a.name,
            kind=a.kind,
            rank=a.rank,
            native_chain_id=natives.get(a.canonical_id),
            categories=a.categories,
            aliases=((simulated.SOURCE_PREFIX, a.canonical_id),),
            markets=tuple(
                (v.source, simulated.market_symbol(a), simulated.QUOTE) for v in market.venues
            ),
        )
        for a in chosen
    )
    names = {a.canonical_id for a in chosen}
    return Registry(
        assets=specs,
        chains=tuple(
            ChainSpec(c.id, c.name, c.caip2, c.evm_chain_id, c.native_asset)
            for c in simulated.CHAINS
        ),
        contracts=tuple(
            ContractSpec(c.asset, c.chain_id, c.address, c.decimals)
            for c in simulated.CONTRACTS
            if c.asset in names
        ),
    )


__all__ = [
    "AssetSpec",
    "ChainSpec",
    "ContractSpec",
    "Registry",
    "simulated_registry",
    "store_registry",
]
