"""The live-data tests reuse the on-chain tests' real anvil node (one per session)."""

from tests.onchain.conftest import anvil, anvil_node

__all__ = ["anvil", "anvil_node"]
