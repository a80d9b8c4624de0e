"""Parsing of JSON-RPC results, over the project's own fixtures (tests/fixtures/eth/)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from sources.errors import SourceDecodeError, SourceRateLimited, SourceTimeout
from sources.ethereum import EthereumClient, EthereumRpc, RpcError, error_from, is_log_limit_error
from sources.ethereum_records import parse_block, parse_fee_history, parse_transfer_log

FIX = json.loads((Path(__file__).parents[1] / "fixtures" / "eth" / "rpc_replies.json").read_text())


def test_cancun_block_header():
    h = parse_block(FIX["block_cancun"])
    assert h is not None
    assert h.number == 20_000_000
    assert h.hash == FIX["block_cancun"]["hash"]
    assert h.timestamp == datetime.fromtimestamp(0x65F1A2B3, tz=UTC)
    assert h.base_fee_per_gas == 10_000_000_000
    assert h.tx_count == 2
    assert h.gas_used_ratio == Decimal(0xE4E1C0) / Decimal(0x1C9C380)


def test_pre_london_block_has_no_base_fee():
    h = parse_block(FIX["block_pre_london"])
    assert h is not None
    assert h.base_fee_per_gas is None
    assert h.tx_count == 0


def test_geth_new_heads_header_has_no_transaction_count():
    h = parse_block(FIX["newheads_geth"])
    assert h is not None
    assert h.tx_count is None
    assert h.gas_used == 0


def test_missing_block_is_none_and_garbage_is_a_decode_error():
    assert parse_block(None) is None
    with pytest.raises(SourceDecodeError):
        parse_block({**FIX["block_cancun"], "number": 20000000})
    with pytest.raises(SourceDecodeError):
        parse_block({**FIX["block_cancun"], "hash": "0xzz"})


def test_fee_history_percentiles_per_block():
    fh = parse_fee_history(FIX["fee_history"], [10, 50, 90])
    blocks = fh.blocks()
    assert sorted(blocks) == [0x1312CFF, 0x1312D00]
    assert fh.newest_block == 0x1312D00
    last = blocks[0x1312D00]
    assert last.priority_fees == {10: 1, 50: 2, 90: 5_000_000_000}
    assert last.gas_used_ratio == Decimal("0.49999123")
    assert last.base_fee_per_gas == 10_000_000_000


def test_fee_history_shape_errors():
    bad = {**FIX["fee_history"], "baseFeePerGas": ["0x1"]}
    with pytest.raises(SourceDecodeError):
        parse_fee_history(bad, [10, 50, 90])
    with pytest.raises(SourceDecodeError):
        parse_fee_history(FIX["fee_history"], [10, 50])  # reward rows have 3 entries


def test_transfer_logs_keep_only_erc20_transfers():
    client = EthereumClient(EthereumRpc("http://127.0.0.1:9"))
    transfers = client._transfers(FIX["logs"])
    assert len(transfers) == 1
    t = transfers[0]
    assert t.value == 2**256 - 1  # exact, beyond any float
    assert t.contract == "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"  # lower-cased
    assert t.from_address == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert t.to_address == "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    assert (t.block_hash, t.log_index) == (FIX["block_cancun"]["hash"], 7)
    assert t.block_timestamp == datetime.fromtimestamp(0x65F1A2B3, tz=UTC)
    # ERC-721 (4 topics), a 64-byte payload and an Approval are not ERC-20 transfers.
    assert client.skipped == {"not_erc20": 3, "removed": 1}


def test_malformed_transfer_log_is_counted_not_stored():
    log = json.loads(json.dumps(FIX["logs"][0]))
    log["topics"][1] = "0x" + "ff" * 32  # not a left-padded address
    client = EthereumClient(EthereumRpc("http://127.0.0.1:9"))
    assert client._transfers([log]) == []
    assert client.skipped == {"malformed": 1}
    assert client.rpc.http.health().quarantined == 1
    with pytest.raises(SourceDecodeError):
        parse_transfer_log(log)


def test_error_classification():
    assert isinstance(error_from({"code": -32601, "message": "Method not found"}), RpcError)
    limited = error_from(
        {"code": -32005, "message": "daily request count exceeded, request rate limited"}
    )
    assert isinstance(limited, SourceRateLimited)
    too_many = error_from({"code": -32005, "message": "query returned more than 10000 results"})
    assert isinstance(too_many, RpcError)
    assert is_log_limit_error(too_many)
    alchemy = error_from(
        {"code": -32602, "message": "Log response size exceeded. Use a 2K block range"}
    )
    assert is_log_limit_error(alchemy)
    assert not is_log_limit_error(error_from({"code": -32601, "message": "Method not found"}))
    assert is_log_limit_error(SourceTimeout("ethereum", "read timeout"))
    assert isinstance(error_from({"message": "no code"}), SourceDecodeError)
