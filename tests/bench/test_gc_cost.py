"""``bench gc_cost`` counts what each collection walks."""

from __future__ import annotations

import gc

from bench.gc_cost import Walk


def test_walk_counts_the_objects_in_the_collected_generations():
    gc.collect()
    walk = Walk()
    alive = [[i] for i in range(500)]  # 500 tracked lists in the young generation
    gc.callbacks.append(walk)
    try:
        gc.collect(0)
        young = walk.walked
        gc.collect(2)
    finally:
        gc.callbacks.remove(walk)
    assert 500 <= young < 500 + 10_000
    assert walk.walked - young >= len(gc.get_objects()) // 2  # a full collection walks the heap
    assert walk.seconds > 0
    del alive
