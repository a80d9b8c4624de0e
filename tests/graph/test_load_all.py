"""``SessionLoader.load_all``: a list-level resolver's load, sharing ``load``'s cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loaders.base import InFlight, SessionLoader


class Squares(SessionLoader[int, int]):
    max_batch_size_default = 4

    def __init__(self) -> None:
        super().__init__(sessions=None, inflight=InFlight())  # type: ignore[arg-type]
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        self.batches.append(list(keys))
        await asyncio.sleep(0)
        if -1 in keys:
            raise RuntimeError("batch failed")
        return [ValueError(f"odd {k}") if k == 7 else k * k for k in keys]


async def test_one_batch_per_max_batch_size_with_duplicates_once():
    loader = Squares()
    out = await loader.load_all([1, 2, 2, 3, 4, 5])
    assert out == [1, 4, 4, 9, 16, 25]
    assert loader.batches == [[1, 2, 3, 4], [5]]
    assert not loader.inflight.tasks  # the batch task is done and forgotten


async def test_shares_keys_with_load_both_ways():
    loader = Squares()
    pending = loader.load(3)  # queued by load(), not dispatched yet
    out = await loader.load_all([3, 4])
    assert out == [9, 16]
    assert await pending == 9
    # 3 came from load()'s batch; only 4 was missing
    assert sorted(map(sorted, loader.batches)) == [[3], [4]]
    # values from load_all are cached for load()
    assert await loader.load(4) == 16
    assert len(loader.batches) == 2


async def test_concurrent_calls_wait_for_the_batch_in_flight():
    loader = Squares()
    a, b = await asyncio.gather(loader.load_all([1, 2]), loader.load_all([2, 1, 6]))
    assert (a, b) == ([1, 4], [4, 1, 36])
    assert loader.batches == [[1, 2], [6]]


async def test_failures_are_returned_in_place():
    loader = Squares()
    out = await loader.load_all([6, 7, 8])
    assert out[0] == 36 and out[2] == 64
    assert isinstance(out[1], ValueError) and str(out[1]) == "odd 7"
    failed = await loader.load_all([-1, 9])  # the whole batch raised: every key fails
    assert all(isinstance(x, RuntimeError) for x in failed)
    with pytest.raises(ValueError, match="odd 7"):  # a failed key stays failed, as with load()
        await loader.load(7)


async def test_a_key_cancelled_mid_batch_fails_its_call_but_settles_the_rest():
    """A cached future cancelled while its batch runs (a caller of load() gave up):
    the load_all that started the batch raises CancelledError, as awaiting that future
    would, and every other key of the batch is still settled for whoever shares it."""
    loader = Squares()
    call = asyncio.ensure_future(loader.load_all([1, 2, 3]))
    await asyncio.sleep(0)  # the call has put its futures in the cache and started the batch
    sharer = asyncio.ensure_future(loader.load_all([3]))
    await asyncio.sleep(0)
    loader._cache[2].cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await asyncio.wait_for(sharer, 1) == [9]
    assert await loader.load(1) == 1
    assert loader.batches == [[1, 2, 3]]
