"""A real local anvil node for the on-chain tests, plus tiny ABI helpers.

The node is started once per test session on a free loopback port and
terminated (by its own handle) at teardown. Tests get the chain back to the
same starting point through ``evm_snapshot``/``evm_revert`` (see the ``chain``
fixture), which is far faster than restarting the node.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
CONTRACTS = json.loads((ROOT / "tests" / "fixtures" / "eth" / "TestToken.json").read_text())
BLOCK_INTERVAL_S = 12  # every mined block is 12 s after its parent, like mainnet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def word(n: int) -> str:
    return format(n, "064x")


def addr_word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(64, "0")


def selector(contract: str, signature: str) -> str:
    return "0x" + CONTRACTS["contracts"][contract]["methodIdentifiers"][signature]


def encode_transfer_many(to: list[str], values: list[int]) -> str:
    """ABI-encode ``transferMany(address[],uint256[])`` (two dynamic arrays)."""
    n = len(to)
    head = word(0x40) + word(0x40 + 32 * (n + 1))
    first = word(n) + "".join(addr_word(a) for a in to)
    second = word(n) + "".join(word(v) for v in values)
    return selector("TestToken", "transferMany(address[],uint256[])") + head + first + second


@dataclass
class Anvil:
    port: int
    proc: subprocess.Popen[bytes]
    accounts: list[str] = field(default_factory=list)
    token: str = ""
    nft: str = ""
    snapshot: str = ""
    # One pooled client: a fresh httpx client per call costs ~100 ms (TLS context set-up).
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        reply = self.http.post(self.url, json=body).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def block(self, number: int) -> dict[str, Any]:
        result: dict[str, Any] = self.rpc("eth_getBlockByNumber", [hex(number), False])
        return result

    def mine(self, n: int = 1) -> int:
        self.rpc("anvil_mine", [hex(n)])
        return self.block_number()

    def receipt(self, tx: str) -> dict[str, Any]:
        """The mined receipt (automine can lag the send by a moment on a busy machine)."""
        deadline = time.monotonic() + 10
        while (receipt := self.rpc("eth_getTransactionReceipt", [tx])) is None:
            assert time.monotonic() < deadline, f"transaction {tx} was not mined"
            time.sleep(0.02)
        assert receipt["status"] == "0x1", receipt
        result: dict[str, Any] = receipt
        return result

    def send(self, sender: str, to: str, data: str) -> dict[str, Any]:
        return self.receipt(
            self.rpc("eth_sendTransaction", [{"from": sender, "to": to, "data": data}])
        )

    def deploy(self, contract: str, args: str = "") -> str:
        code = CONTRACTS["contracts"][contract]["bytecode"] + args
        tx = self.rpc("eth_sendTransaction", [{"from": self.accounts[0], "data": code}])
        return str(self.receipt(tx)["contractAddress"]).lower()

    def transfer(self, sender: str, to: str, value: int) -> dict[str, Any]:
        data = selector("TestToken", "transfer(address,uint256)") + addr_word(to) + word(value)
        return self.send(sender, self.token, data)

    def mint(self, to: str, value: int) -> dict[str, Any]:
        data = selector("TestToken", "mint(address,uint256)") + addr_word(to) + word(value)
        return self.send(self.accounts[0], self.token, data)

    def transfer_many(self, sender: str, to: list[str], values: list[int]) -> dict[str, Any]:
        return self.send(sender, self.token, encode_transfer_many(to, values))

    def mint_nft(self, to: str, token_id: int) -> dict[str, Any]:
        data = selector("TestNft", "mint(address,uint256)") + addr_word(to) + word(token_id)
        return self.send(self.accounts[0], self.nft, data)

    def reset(self) -> None:
        """Back to the session's starting chain (the snapshot is consumed, so retake it)."""
        assert self.rpc("evm_revert", [self.snapshot]) is True
        self.snapshot = self.rpc("evm_snapshot")


def start_anvil() -> Anvil:
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    node = Anvil(port=port, proc=proc)
    deadline = time.monotonic() + 15
    while True:
        try:
            node.rpc("eth_chainId")
            break
        except (httpx.HTTPError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_anvil(node)
                raise RuntimeError("anvil did not start") from None
            time.sleep(0.05)
    node.rpc("anvil_setBlockTimestampInterval", [BLOCK_INTERVAL_S])
    node.accounts = [a.lower() for a in node.rpc("eth_accounts")]
    node.token = node.deploy("TestToken", word(10**30))
    node.nft = node.deploy("TestNft")
    node.snapshot = node.rpc("evm_snapshot")
    return node


def stop_anvil(node: Anvil) -> None:
    node.http.close()
    node.proc.terminate()
    try:
        node.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait(timeout=5)
