"""The JSON-RPC adapter against a real anvil node (tests/onchain/anvil.py)."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sources.errors import SourceDecodeError
from sources.ethereum import EthereumClient, EthereumRpc, RpcError

Rewrite = Callable[[Any, Any], Any]


class Forward(httpx.AsyncBaseTransport):
    """Forward each request to the node, letting a test rewrite request or reply on the way."""

    def __init__(self, *, reply: Rewrite | None = None, refuse: Callable[[Any], Any] | None = None):
        self.inner = httpx.AsyncHTTPTransport()
        self.reply, self.refuse = reply, refuse
        self.requests: list[Any] = []
        self.replies: list[Any] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(await request.aread())
        self.requests.append(body)
        if self.refuse is not None and (refusal := self.refuse(body)) is not None:
            return httpx.Response(200, json=refusal)
        upstream = await self.inner.handle_async_request(request)
        data = json.loads(await upstream.aread())
        if self.reply is not None:
            data = self.reply(body, data)
        self.replies.append(data)
        return httpx.Response(200, json=data)

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_via(anvil, transport: httpx.AsyncBaseTransport, **kw: Any) -> EthereumClient:
    return EthereumClient(EthereumRpc(anvil.url, transport=transport), **kw)


async def test_batch_replies_out_of_order_are_matched_by_id(anvil):
    anvil.mine(3)
    transport = Forward(reply=lambda _req, data: list(reversed(data)))
    eth = client_via(anvil, transport)
    blocks = await eth.blocks([1, 2, 3])
    assert [b.number for b in blocks] == [1, 2, 3]
    assert [b.hash for b in blocks] == [anvil.block(n)["hash"] for n in (1, 2, 3)]
    sent = [item["id"] for item in transport.requests[0]]
    got = [item["id"] for item in transport.replies[0]]
    assert got == list(reversed(sent))
    assert got != sent
    await eth.rpc.aclose()


async def test_one_failing_element_does_not_fail_the_batch(anvil):
    transport = Forward(reply=lambda _req, data: data[::-1])
    eth = client_via(anvil, transport)
    results = await eth.rpc.batch(
        [("eth_blockNumber", []), ("eth_nonexistentMethod", []), ("eth_chainId", [])]
    )
    assert results[0] == hex(anvil.block_number())
    assert isinstance(results[1], RpcError)
    assert results[1].rpc_code == -32601
    assert results[2] == "0x7a69"
    await eth.rpc.aclose()


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda _req, data: data[:-1], id="missing-id"),
        pytest.param(lambda _req, data: [*data[:-1], data[0]], id="duplicate-id"),
        pytest.param(lambda _req, data: [{**data[0], "id": 999999}, *data[1:]], id="unknown-id"),
        pytest.param(lambda _req, data: {"not": "a list"}, id="not-an-array"),
    ],
)
async def test_a_reply_set_that_does_not_answer_every_id_is_rejected(anvil, mangle):
    eth = client_via(anvil, Forward(reply=mangle))
    with pytest.raises(SourceDecodeError):
        await eth.rpc.batch([("eth_blockNumber", []), ("eth_chainId", [])])
    await eth.rpc.aclose()


async def test_single_call_error_is_typed(eth):
    with pytest.raises(RpcError) as err:
        await eth.rpc.call("eth_nonexistentMethod")
    assert err.value.rpc_code == -32601
    assert await eth.chain_id() == 31337


async def test_large_batches_are_chunked(anvil):
    anvil.mine(7)
    transport = Forward()
    eth = EthereumClient(EthereumRpc(anvil.url, transport=transport, max_batch=3))
    blocks = await eth.blocks(list(range(8)))
    assert [b.number for b in blocks] == list(range(8))
    assert [len(r) for r in transport.requests] == [3, 3, 2]
    await eth.rpc.aclose()


async def test_blocks_and_fee_history_match_the_node(anvil, eth):
    first = anvil.block_number() + 1
    anvil.transfer(anvil.accounts[0], anvil.accounts[1], 5)
    anvil.mine(2)
    anvil.transfer(anvil.accounts[0], anvil.accounts[2], 6)
    last = anvil.block_number()
    rng = await eth.block_range(first, last)
    assert [h.number for h in rng.headers] == list(range(first, last + 1))
    for h in rng.headers:
        raw = anvil.block(h.number)
        assert h.hash == raw["hash"]
        assert h.parent_hash == raw["parentHash"]
        assert h.base_fee_per_gas == int(raw["baseFeePerGas"], 16)
        assert h.tx_count == len(raw["transactions"])
        assert int(h.timestamp.timestamp()) == int(raw["timestamp"], 16)
    assert [h.tx_count for h in rng.headers] == [1, 0, 0, 1]
    assert rng.fees is not None
    fees = rng.fees.blocks()
    assert sorted(fees) == list(range(first, last + 1))
    raw_fh = anvil.rpc("eth_feeHistory", [hex(last - first + 1), hex(last), [10, 50, 90]])
    for i, n in enumerate(range(first, last + 1)):
        assert fees[n].base_fee_per_gas == int(raw_fh["baseFeePerGas"][i], 16)
        assert [fees[n].priority_fees[p] for p in (10, 50, 90)] == [
            int(x, 16) for x in raw_fh["reward"][i]
        ]
    assert fees[first].priority_fees[50] > 0  # a block with a transaction pays a tip


async def test_a_block_the_node_does_not_have_is_none(anvil, eth):
    assert await eth.blocks([anvil.block_number() + 5]) == [None]


async def test_erc20_transfers_are_exact_and_erc721_logs_are_skipped(anvil, eth):
    a = anvil.accounts
    huge = 2**255 + 12345  # needs all 256 bits; no float could hold it
    first = anvil.block_number() + 1
    anvil.mint(a[3], huge)
    anvil.transfer_many(a[0], [a[1], a[2], a[1]], [1, 10**18, 777])
    anvil.mint_nft(a[4], 42)
    last = anvil.block_number()
    transfers = await eth.transfer_logs(first, last)
    assert [(t.from_address, t.to_address, t.value) for t in transfers] == [
        ("0x" + "0" * 40, a[3], huge),
        (a[0], a[1], 1),
        (a[0], a[2], 10**18),
        (a[0], a[1], 777),
    ]
    assert [t.log_index for t in transfers[1:]] == [0, 1, 2]
    assert len({(t.block_hash, t.log_index) for t in transfers}) == 4
    assert {t.contract for t in transfers} == {anvil.token}
    assert eth.skipped["not_erc20"] == 1  # the NFT mint: same topic0, four topics
    only_nft = await eth.transfer_logs(first, last, [anvil.nft])
    assert only_nft == []


async def test_log_pages_shrink_on_too_many_results(anvil):
    a = anvil.accounts
    first = anvil.block_number() + 1
    for i in range(6):
        anvil.transfer(a[0], a[1], i + 1)
        anvil.mine(2)
    last = anvil.block_number()

    def refuse(body):
        if isinstance(body, dict) and body["method"] == "eth_getLogs":
            flt = body["params"][0]
            if int(flt["toBlock"], 16) - int(flt["fromBlock"], 16) + 1 > 4:
                return {
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "error": {"code": -32005, "message": "query returned more than 10000 results"},
                }
        return None

    transport = Forward(refuse=refuse)
    eth = client_via(anvil, transport, log_page_blocks=64)
    transfers = await eth.transfer_logs(first, last)
    assert [t.value for t in transfers] == [1, 2, 3, 4, 5, 6]
    ranges = [
        (int(r["params"][0]["fromBlock"], 16), int(r["params"][0]["toBlock"], 16))
        for r in transport.requests
    ]
    served = [(f, t) for f, t in ranges if t - f + 1 <= 4]
    # Served pages tile the range exactly once: no block skipped, none read twice.
    covered = [n for f, t in served for n in range(f, t + 1)]
    assert covered == list(range(first, last + 1))
    assert len(ranges) > len(served)  # some pages were refused and shrunk
    await eth.rpc.aclose()


async def test_single_block_still_too_big_raises(anvil):
    anvil.transfer(anvil.accounts[0], anvil.accounts[1], 1)
    n = anvil.block_number()

    def refuse(body):
        if isinstance(body, dict) and body["method"] == "eth_getLogs":
            return {
                "jsonrpc": "2.0",
                "id": body["id"],
                "error": {"code": -32005, "message": "query returned more than 10000 results"},
            }
        return None

    eth = client_via(anvil, Forward(refuse=refuse))
    with pytest.raises(RpcError):
        await eth.transfer_logs(n - 3, n)
    await eth.rpc.aclose()
