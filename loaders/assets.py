"""Asset loaders: by id, canonical id, symbol, and list pages/counts."""

from __future__ import annotations

from loaders.base import SessionLoader
from storage.records import AssetListQuery, AssetPage, AssetRecord
from storage.repositories import assets as repo


class AssetByIdLoader(SessionLoader[int, AssetRecord | None]):
    async def batch_load_fn(self, keys: list[int]) -> list[AssetRecord | None]:
        async with self.sessions() as session:
            found = await repo.assets_by_ids(session, keys)
        return [found.get(k) for k in keys]


class AssetByCanonicalIdLoader(SessionLoader[str, AssetRecord | None]):
    async def batch_load_fn(self, keys: list[str]) -> list[AssetRecord | None]:
        async with self.sessions() as session:
            found = await repo.assets_by_canonical_ids(session, keys)
        return [found.get(k) for k in keys]


class AssetsBySymbolLoader(SessionLoader[str, list[AssetRecord]]):
    """Every asset carrying a symbol (case-insensitive); several means ambiguous."""

    async def batch_load_fn(self, keys: list[str]) -> list[list[AssetRecord]]:
        async with self.sessions() as session:
            found = await repo.assets_by_symbols(session, keys)
        return [found.get(k.upper(), []) for k in keys]


class AssetPageByQueryLoader(SessionLoader[AssetListQuery, AssetPage]):
    """One page of the asset list per distinct query (usually one per request)."""

    async def batch_load_fn(self, keys: list[AssetListQuery]) -> list[AssetPage]:
        async with self.sessions() as session:
            return [await repo.asset_page(session, k) for k in keys]


class AssetCountByQueryLoader(SessionLoader[AssetListQuery, int]):
    """``totalCount``: how many assets match a list query's filters."""

    async def batch_load_fn(self, keys: list[AssetListQuery]) -> list[int]:
        async with self.sessions() as session:
            return [await repo.asset_count(session, k) for k in keys]
