"""Asset loaders."""

from __future__ import annotations

from loaders.base import SessionLoader
from storage.records import AssetRecord
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
