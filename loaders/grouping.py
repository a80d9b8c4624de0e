"""Group a batch's keys by their shared parameters.

A batch may mix keys that differ only in the asset (one SQL statement for all
of them) with keys carrying other parameters (another instant, window, page
size). Grouping by everything but the entity id keeps the statement count
per batch equal to the number of distinct parameter sets, independent of how
many entities were asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K")
P = TypeVar("P", bound=Hashable)


def group_by(keys: Sequence[K], params: Callable[[K], P]) -> dict[P, list[K]]:
    groups: dict[P, list[K]] = {}
    for key in keys:
        groups.setdefault(params(key), []).append(key)
    return groups
