"""``SessionLoader.load_all``: a list-level resolver's load, sharing ``load``'s cache."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from loaders.base import InFlight, SessionLoader


class Squares(SessionLoader[int, int]):
    max_batch_size_default = 4

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(sessions=None, inflight=InFlight(), **kwargs)  # type: ignore[arg-type]
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


async def test_distinct_fresh_keys_span_batches_and_fill_the_cache():
    """Every key new and distinct (the bulk path): one batch per max_batch_size, values
    in order, each key's future cached and settled for load()."""
    loader = Squares()
    assert await loader.load_all([1, 2]) == [1, 4]  # the cache is no longer empty
    keys = [3, 4, 5, 6, 8, 9, 10, 11, 12, 13]
    expected = [9, 16, 25, 36, 64, 81, 100, 121, 144, 169]
    assert await loader.load_all(keys) == expected
    assert loader.batches == [[1, 2], [3, 4, 5, 6], [8, 9, 10, 11], [12, 13]]
    settled = [loader._cache[k].result() for k in keys]
    assert settled == expected
    assert await loader.load(13) == 169
    assert len(loader.batches) == 4


async def test_shared_keys_keep_their_places_among_fresh_ones():
    """Cached keys first, last, and next to each other, between fresh ones."""
    loader = Squares()
    await loader.load_all([1, 4, 5, 9])
    out = await loader.load_all([1, 2, 3, 4, 5, 6, 7, 8, 9, 3])
    assert out[:6] == [1, 4, 9, 16, 25, 36] and out[7:] == [64, 81, 9]
    assert isinstance(out[6], ValueError)
    assert loader.batches == [[1, 4, 5, 9], [2, 3, 6, 7], [8]]
    again = await loader.load_all([7, 2])  # a shared key's failure is returned in place
    assert isinstance(again[0], ValueError) and again[1] == 4
    assert len(loader.batches) == 3


async def test_failures_stay_in_their_places_across_batches():
    """A failed key, a batch that raised, and a whole batch after them."""
    loader = Squares()
    out = await loader.load_all([1, 2, 3, 7, 5, 6, -1, 8, 10])
    assert loader.batches == [[1, 2, 3, 7], [5, 6, -1, 8], [10]]
    assert out[:3] == [1, 4, 9] and out[8] == 100
    assert isinstance(out[3], ValueError)
    assert all(isinstance(x, RuntimeError) for x in out[4:8])  # the batch with -1 raised
    with pytest.raises(RuntimeError):
        await loader.load(8)


async def test_a_failed_batch_leaves_no_failure_unretrieved():
    """The batch raised: every key's future holds the error load_all returned, so none
    logs "Future exception was never retrieved" when it goes."""
    gc.collect()
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        loader = Squares()
        failed = await loader.load_all([1, 2, 3, 4, -1, 9])
        assert failed[:4] == [1, 4, 9, 16]
        assert all(isinstance(x, RuntimeError) for x in failed[4:])
        del loader, failed
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert reported == []


async def test_without_the_cache_each_call_loads_its_distinct_keys_once():
    loader = Squares(cache=False)
    assert await loader.load_all([1, 2, 3]) == [1, 4, 9]
    assert await loader.load_all([3, 2, 3, 1, 2]) == [9, 4, 9, 1, 4]
    assert loader.batches == [[1, 2, 3], [3, 2, 1]]
    assert not loader._cache


async def test_cache_keys_share_and_the_batch_gets_the_keys():
    loader = Squares(get_cache_key=abs)
    assert await loader.load_all([-5, 6]) == [25, 36]
    assert await loader.load_all([2, -2, 5, 3, -6]) == [4, 4, 25, 9, 36]
    assert loader.batches == [[-5, 6], [2, 3]]
    assert sorted(loader._cache) == [2, 3, 5, 6]


async def test_a_cancelled_batch_cancels_every_key_left_and_the_call():
    loader = Squares()
    call = asyncio.ensure_future(loader.load_all([1, 2, 3, 4, 5]))
    await asyncio.sleep(0)  # the call has started the batch task
    await asyncio.sleep(0)  # which waits in the batch function for keys 1-4
    (task,) = loader.inflight.tasks
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert loader.batches == [[1, 2, 3, 4]]
    assert all(loader._cache[k].cancelled() for k in (1, 2, 3, 4, 5))


async def test_a_cancelled_shared_key_fails_the_call():
    loader = Squares()
    loader.load(3).cancel()  # a caller of load() gave up on 3 before its batch ran
    with pytest.raises(asyncio.CancelledError):
        await loader.load_all([1, 3, 4])
    assert await loader.load_all([4, 1]) == [16, 1]  # the fresh keys were loaded all the same


async def test_wait_all_waits_for_every_future_and_never_cancels_them():
    from loaders.base import wait_all

    loop = asyncio.get_running_loop()
    a, b = loop.create_future(), loop.create_future()
    waiting = asyncio.ensure_future(wait_all([a, b, a]))  # a repeated future counts once
    await asyncio.sleep(0)
    a.set_result(1)
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    b.set_exception(ValueError("b"))
    assert await asyncio.wait_for(waiting, 1) is None
    assert b.exception() is not None  # outcomes stay on the futures
    await wait_all([a, b])  # all done already: returns at once

    c = loop.create_future()
    waiting = asyncio.ensure_future(wait_all([c]))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not c.cancelled()  # the caller's cancellation is not the future's
    assert c.remove_done_callback(lambda _f: None) == 0
    assert not c._callbacks  # type: ignore[attr-defined] # nothing left behind
