"""Typed records and wire-format parsing for Ethereum JSON-RPC.

Quantities on the wire are ``0x``-hex strings without leading zeros; they are
parsed to Python ``int`` here, which is exact at any size (a uint256 token
amount has up to 78 digits). Storage turns them into exact ``Decimal`` columns.
Timestamps become aware UTC datetimes.

A ``Transfer(address,address,uint256)`` log is an ERC-20 transfer only when it
has exactly three topics (signature, from, to) and 32 bytes of data (the
value). ERC-721 uses the same event signature with the token id as a fourth,
indexed topic and empty data; those, and any other shape, are *skipped* and
counted, never stored as ERC-20 transfers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sources.errors import SourceDecodeError

SOURCE = "ethereum"

#: keccak256("Transfer(address,address,uint256)"), topic0 of ERC-20 and ERC-721 transfers.
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """A block header. ``tx_count`` is ``None`` when the source omitted the
    transaction list (``newHeads`` notifications from geth)."""

    number: int
    hash: str
    parent_hash: str
    timestamp: datetime
    gas_used: int
    gas_limit: int
    base_fee_per_gas: int | None
    tx_count: int | None

    @property
    def gas_used_ratio(self) -> Decimal:
        return Decimal(self.gas_used) / Decimal(self.gas_limit) if self.gas_limit else Decimal(0)


@dataclass(frozen=True, slots=True)
class BlockFees:
    """One block's slice of ``eth_feeHistory``: priority fees (wei) by percentile."""

    number: int
    base_fee_per_gas: int
    gas_used_ratio: Decimal
    priority_fees: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class FeeHistory:
    """``eth_feeHistory``: ``base_fee_per_gas`` has one more entry than blocks (the next block)."""

    oldest_block: int
    base_fee_per_gas: tuple[int, ...]
    gas_used_ratio: tuple[Decimal, ...]
    reward: tuple[tuple[int, ...], ...]
    percentiles: tuple[int, ...]

    @property
    def newest_block(self) -> int:
        return self.oldest_block + len(self.gas_used_ratio) - 1

    def blocks(self) -> dict[int, BlockFees]:
        out: dict[int, BlockFees] = {}
        for i, ratio in enumerate(self.gas_used_ratio):
            rewards = self.reward[i] if i < len(self.reward) else ()
            out[self.oldest_block + i] = BlockFees(
                number=self.oldest_block + i,
                base_fee_per_gas=self.base_fee_per_gas[i],
                gas_used_ratio=ratio,
                priority_fees=dict(zip(self.percentiles, rewards, strict=False)),
            )
        return out


@dataclass(frozen=True, slots=True)
class TransferLog:
    """An ERC-20 ``Transfer`` log. Reorg-safe identity: ``(block_hash, log_index)``."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    contract: str
    from_address: str
    to_address: str
    value: int
    block_timestamp: datetime | None
    removed: bool = False


def hex_int(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise SourceDecodeError(SOURCE, f"{what}: expected a 0x quantity, got {value!r}")
    try:
        return int(value, 16)
    except ValueError:
        raise SourceDecodeError(SOURCE, f"{what}: bad hex {value!r}") from None


def to_hex(n: int) -> str:
    return hex(n)


def hex_data(value: Any, what: str) -> str:
    """A ``0x`` data string or hash, lower-cased."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SourceDecodeError(SOURCE, f"{what}: expected 0x data, got {value!r}")
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        raise SourceDecodeError(SOURCE, f"{what}: bad hex data {value!r}") from None
    return value.lower()


def unix_time(value: Any, what: str) -> datetime:
    return datetime.fromtimestamp(hex_int(value, what), tz=UTC)


def parse_block(raw: Any) -> BlockHeader | None:
    """``eth_getBlockByNumber`` / ``newHeads`` result; ``None`` for a missing block."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SourceDecodeError(SOURCE, f"block is not an object: {raw!r:.200}")
    txs = raw.get("transactions")
    base_fee = raw.get("baseFeePerGas")
    return BlockHeader(
        number=hex_int(raw.get("number"), "block.number"),
        hash=hex_data(raw.get("hash"), "block.hash"),
        parent_hash=hex_data(raw.get("parentHash"), "block.parentHash"),
        timestamp=unix_time(raw.get("timestamp"), "block.timestamp"),
        gas_used=hex_int(raw.get("gasUsed"), "block.gasUsed"),
        gas_limit=hex_int(raw.get("gasLimit"), "block.gasLimit"),
        # Pre-London blocks (and pre-London chains such as old ganache) have no base fee.
        base_fee_per_gas=None if base_fee is None else hex_int(base_fee, "block.baseFeePerGas"),
        tx_count=len(txs) if isinstance(txs, list) else None,
    )


def parse_fee_history(raw: Any, percentiles: Sequence[int]) -> FeeHistory:
    if not isinstance(raw, dict):
        raise SourceDecodeError(SOURCE, f"feeHistory is not an object: {raw!r:.200}")
    ratios_raw = raw.get("gasUsedRatio")
    fees_raw = raw.get("baseFeePerGas")
    if not isinstance(ratios_raw, list) or not isinstance(fees_raw, list):
        raise SourceDecodeError(SOURCE, "feeHistory lacks gasUsedRatio/baseFeePerGas")
    if len(fees_raw) != len(ratios_raw) + 1:
        raise SourceDecodeError(
            SOURCE, f"feeHistory: {len(fees_raw)} base fees for {len(ratios_raw)} blocks"
        )
    ratios = tuple(_ratio(r) for r in ratios_raw)
    reward_raw = raw.get("reward") or []
    if percentiles and len(reward_raw) != len(ratios):
        raise SourceDecodeError(SOURCE, "feeHistory: reward rows do not match blocks")
    reward = tuple(tuple(hex_int(v, "feeHistory.reward") for v in row) for row in reward_raw)
    if any(len(row) != len(percentiles) for row in reward):
        raise SourceDecodeError(SOURCE, "feeHistory: reward row length != percentiles")
    return FeeHistory(
        oldest_block=hex_int(raw.get("oldestBlock"), "feeHistory.oldestBlock"),
        base_fee_per_gas=tuple(hex_int(v, "feeHistory.baseFeePerGas") for v in fees_raw),
        gas_used_ratio=ratios,
        reward=reward,
        percentiles=tuple(percentiles),
    )


def _ratio(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SourceDecodeError(SOURCE, f"gasUsedRatio is not a number: {value!r}")
    ratio = Decimal(str(value))
    if not ratio.is_finite() or ratio < 0:
        raise SourceDecodeError(SOURCE, f"gasUsedRatio out of range: {value!r}")
    return ratio


def _address_topic(topic: str) -> str:
    if len(topic) != 66 or int(topic[2:26], 16) != 0:
        raise SourceDecodeError(SOURCE, f"topic is not a left-padded address: {topic}")
    return "0x" + topic[-40:]


def parse_transfer_log(raw: Any) -> TransferLog | None:
    """An ERC-20 transfer, or ``None`` for a log that is not one (ERC-721, other events).

    Raises :class:`SourceDecodeError` for a log that claims the ERC-20 shape but
    is malformed (bad hex, wrong lengths).
    """
    if not isinstance(raw, dict):
        raise SourceDecodeError(SOURCE, f"log is not an object: {raw!r:.200}")
    topics = raw.get("topics")
    if not isinstance(topics, list) or len(topics) != 3:
        return None
    if str(topics[0]).lower() != TRANSFER_TOPIC:
        return None
    data = hex_data(raw.get("data"), "log.data")
    if len(data) != 66:
        return None  # not a single uint256: a non-standard event sharing the signature
    ts = raw.get("blockTimestamp")
    return TransferLog(
        block_number=hex_int(raw.get("blockNumber"), "log.blockNumber"),
        block_hash=hex_data(raw.get("blockHash"), "log.blockHash"),
        tx_hash=hex_data(raw.get("transactionHash"), "log.transactionHash"),
        log_index=hex_int(raw.get("logIndex"), "log.logIndex"),
        contract=hex_data(raw.get("address"), "log.address"),
        from_address=_address_topic(hex_data(topics[1], "log.topics[1]")),
        to_address=_address_topic(hex_data(topics[2], "log.topics[2]")),
        value=int(data, 16),
        block_timestamp=None if ts is None else unix_time(ts, "log.blockTimestamp"),
        removed=raw.get("removed") is True,
    )


__all__ = [
    "SOURCE",
    "TRANSFER_TOPIC",
    "BlockFees",
    "BlockHeader",
    "FeeHistory",
    "TransferLog",
    "hex_data",
    "hex_int",
    "parse_block",
    "parse_fee_history",
    "parse_transfer_log",
    "to_hex",
]
