"""Chain loaders: chains, contracts, blocks and chain metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loaders.base import SessionLoader
from loaders.grouping import group_by
from storage.records import BlockRecord, ChainMetricRecord, ChainRecord, ContractRecord
from storage.repositories import chains as repo

ALL = "*"


class ChainsByScopeLoader(SessionLoader[str, list[ChainRecord]]):
    """Every chain, under the single scope key :data:`ALL` (one statement, cached per request)."""

    async def batch_load_fn(self, keys: list[str]) -> list[list[ChainRecord]]:
        async with self.sessions() as session:
            chains = await repo.all_chains(session)
        return [chains for _ in keys]


class ChainByIdLoader(SessionLoader[str, ChainRecord | None]):
    """A chain by slug (``ethereum``) or CAIP-2 id (``eip155:1``)."""

    async def batch_load_fn(self, keys: list[str]) -> list[ChainRecord | None]:
        async with self.sessions() as session:
            found = await repo.chains_by_ids(session, keys)
        return [found.get(k) for k in keys]


class ContractsByAssetLoader(SessionLoader[int, list[ContractRecord]]):
    async def batch_load_fn(self, keys: list[int]) -> list[list[ContractRecord]]:
        async with self.sessions() as session:
            found = await repo.contracts_by_asset_ids(session, keys)
        return [found.get(k, []) for k in keys]


@dataclass(frozen=True, slots=True)
class HeadKey:
    chain_id: str
    at: datetime


class HeadBlockByChainLoader(SessionLoader[HeadKey, BlockRecord | None]):
    async def batch_load_fn(self, keys: list[HeadKey]) -> list[BlockRecord | None]:
        found: dict[HeadKey, BlockRecord | None] = {}
        async with self.sessions() as session:
            for at, group in group_by(keys, lambda k: k.at).items():
                heads = await repo.head_blocks(session, sorted({k.chain_id for k in group}), at=at)
                for k in group:
                    found[k] = heads.get(k.chain_id)
        return [found[k] for k in keys]


@dataclass(frozen=True, slots=True)
class BlockPageKey:
    chain_id: str
    before: int | None
    at: datetime
    limit: int


class BlocksByChainLoader(SessionLoader[BlockPageKey, list[BlockRecord]]):
    """Canonical blocks newest first, ``limit`` (+1 to detect a next page) per page key."""

    async def batch_load_fn(self, keys: list[BlockPageKey]) -> list[list[BlockRecord]]:
        found: dict[BlockPageKey, list[BlockRecord]] = {}
        async with self.sessions() as session:
            for (at, limit), group in group_by(keys, lambda k: (k.at, k.limit)).items():
                pages = sorted({(k.chain_id, k.before) for k in group}, key=str)
                rows = await repo.blocks_before(session, pages, at=at, limit=limit)
                for k in group:
                    found[k] = rows.get((k.chain_id, k.before), [])
        return [found[k] for k in keys]


class BlockByHashLoader(SessionLoader[tuple[str, str], BlockRecord | None]):
    """A block by (chain, hash), for ``node(id:)``."""

    async def batch_load_fn(self, keys: list[tuple[str, str]]) -> list[BlockRecord | None]:
        async with self.sessions() as session:
            found = await repo.blocks_by_hashes(session, keys)
        return [found.get(k) for k in keys]


@dataclass(frozen=True, slots=True)
class LatestMetricsKey:
    chain_id: str
    at: datetime
    since: datetime


class LatestMetricsByChainLoader(SessionLoader[LatestMetricsKey, list[ChainMetricRecord]]):
    async def batch_load_fn(self, keys: list[LatestMetricsKey]) -> list[list[ChainMetricRecord]]:
        found: dict[LatestMetricsKey, list[ChainMetricRecord]] = {}
        async with self.sessions() as session:
            for (at, since), group in group_by(keys, lambda k: (k.at, k.since)).items():
                rows = await repo.latest_metrics(
                    session, sorted({k.chain_id for k in group}), at=at, since=since
                )
                for k in group:
                    found[k] = rows.get(k.chain_id, [])
        return [found[k] for k in keys]


@dataclass(frozen=True, slots=True)
class MetricSeriesKey:
    chain_id: str
    kind: str
    start: datetime | None
    end: datetime
    limit: int


class MetricSeriesByChainLoader(SessionLoader[MetricSeriesKey, list[ChainMetricRecord]]):
    """Points of one metric kind, oldest first: the newest ``limit`` in ``[start, end]``."""

    async def batch_load_fn(self, keys: list[MetricSeriesKey]) -> list[list[ChainMetricRecord]]:
        found: dict[MetricSeriesKey, list[ChainMetricRecord]] = {}
        async with self.sessions() as session:
            groups = group_by(keys, lambda k: (k.start, k.end, k.limit))
            for (start, end, limit), group in groups.items():
                series = sorted({(k.chain_id, k.kind) for k in group})
                rows = await repo.metric_series(session, series, start=start, end=end, limit=limit)
                for k in group:
                    found[k] = rows.get((k.chain_id, k.kind), [])
        return [found[k] for k in keys]
