"""ERC-20 transfer loaders: activity statistics and largest transfers per token contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loaders.base import SessionLoader
from loaders.grouping import group_by
from storage.records import TransferRecord, TransferStats
from storage.repositories import transfers as repo


@dataclass(frozen=True, slots=True)
class TransferWindowKey:
    chain_id: str
    contract_address: str
    start: datetime
    end: datetime
    limit: int = 0


class TransferStatsByContractLoader(SessionLoader[TransferWindowKey, TransferStats]):
    async def batch_load_fn(self, keys: list[TransferWindowKey]) -> list[TransferStats]:
        found: dict[TransferWindowKey, TransferStats] = {}
        async with self.sessions() as session:
            for (start, end), group in group_by(keys, lambda k: (k.start, k.end)).items():
                contracts = sorted({(k.chain_id, k.contract_address) for k in group})
                stats = await repo.transfer_stats(session, contracts, start=start, end=end)
                for k in group:
                    found[k] = stats[(k.chain_id, k.contract_address)]
        return [found[k] for k in keys]


class LargestTransfersByContractLoader(SessionLoader[TransferWindowKey, list[TransferRecord]]):
    async def batch_load_fn(self, keys: list[TransferWindowKey]) -> list[list[TransferRecord]]:
        found: dict[TransferWindowKey, list[TransferRecord]] = {}
        async with self.sessions() as session:
            groups = group_by(keys, lambda k: (k.start, k.end, k.limit))
            for (start, end, limit), group in groups.items():
                contracts = sorted({(k.chain_id, k.contract_address) for k in group})
                rows = await repo.largest_transfers(
                    session, contracts, start=start, end=end, limit=limit
                )
                for k in group:
                    found[k] = rows.get((k.chain_id, k.contract_address), [])
        return [found[k] for k in keys]
