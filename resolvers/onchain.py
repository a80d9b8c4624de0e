"""On-chain resolvers for assets: token contracts and their transfer activity."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from loaders.transfers import TransferWindowKey
from resolvers.context import Context
from resolvers.errors import BadUserInput
from resolvers.instant import Instant
from storage.records import ContractRecord, TransferRecord, TransferStats
from storage.types import canonical_decimal

DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 30
DEFAULT_LARGEST = 5
MAX_LARGEST = 50


async def contracts(ctx: Context, asset_id: int) -> list[ContractRecord]:
    return await ctx.loaders.contracts_by_asset.load(asset_id)


@dataclass(frozen=True, slots=True)
class ActivityWindow:
    """Transfers with ``start <= timestamp <= end`` of one token contract."""

    contract: ContractRecord
    start: datetime
    end: datetime

    def key(self, limit: int = 0) -> TransferWindowKey:
        return TransferWindowKey(
            self.contract.chain_id, self.contract.address, self.start, self.end, limit
        )


def activity_window(contract: ContractRecord, instant: Instant, hours: int) -> ActivityWindow:
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise BadUserInput(
            f"windowHours must be between 1 and {MAX_WINDOW_HOURS} (got {hours})",
            extensions={"argument": "windowHours", "maximum": MAX_WINDOW_HOURS},
        )
    return ActivityWindow(contract, instant.at - timedelta(hours=hours), instant.at)


async def transfer_stats(ctx: Context, window: ActivityWindow) -> TransferStats:
    return await ctx.loaders.transfer_stats_by_contract.load(window.key())


async def largest_transfers(
    ctx: Context, window: ActivityWindow, first: int
) -> list[TransferRecord]:
    if not 0 <= first <= MAX_LARGEST:
        raise BadUserInput(
            f"first must be between 0 and {MAX_LARGEST} (got {first})",
            extensions={"argument": "first", "maximum": MAX_LARGEST},
        )
    if first == 0:
        return []
    return await ctx.loaders.largest_transfers_by_contract.load(window.key(first))


def token_units(raw: Decimal, decimals: int) -> Decimal:
    """A raw uint256 amount in whole tokens (exact: a decimal shift, no rounding)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 100  # uint256 has 78 digits: never round
        return canonical_decimal(raw.scaleb(-decimals))
