"""Fixtures for the on-chain tests: one real anvil node per session, reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sources.ethereum import EthereumClient, EthereumRpc
from tests.onchain.anvil import ANVIL, Anvil, start_anvil, stop_anvil


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    if not ANVIL.exists():
        pytest.fail("node_modules/.bin/anvil is missing: run `npm ci` (./run check does)")
    node = start_anvil()
    try:
        yield node
    finally:
        stop_anvil(node)


@pytest.fixture
def anvil(anvil_node: Anvil) -> Anvil:
    """The session's node, rewound to just after the test contracts were deployed."""
    anvil_node.reset()
    return anvil_node


@pytest.fixture
async def eth(anvil: Anvil) -> AsyncIterator[EthereumClient]:
    rpc = EthereumRpc(anvil.url)
    try:
        yield EthereumClient(rpc)
    finally:
        await rpc.aclose()
