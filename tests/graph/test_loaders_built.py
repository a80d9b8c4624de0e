"""Building loaders: one request's registry, and a loader built without aiodataloader's
constructor (after its class's first) holding exactly what that constructor sets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiodataloader import DataLoader

from loaders.assets import AssetByIdLoader
from loaders.base import InFlight, SessionLoader
from loaders.quotes import QuotesByAssetLoader
from loaders.registry import Loaders, built_once

SESSIONS: Any = object()  # never opened: nothing here loads from a database


def aiodataloaders_own(cls: type[SessionLoader[Any, Any]], **kwargs: Any) -> dict[str, Any]:
    """The attributes aiodataloader's constructor gives an instance of ``cls``."""
    bare = object.__new__(cls)
    kwargs.setdefault("max_batch_size", cls.max_batch_size_default)
    DataLoader.__init__(bare, **kwargs)
    return vars(bare)


def same_state(built: SessionLoader[Any, Any], expected: dict[str, Any]) -> None:
    own = {k: v for k, v in vars(built).items() if k not in ("sessions", "inflight")}
    own.pop("_identity_keys")
    assert own.keys() == expected.keys()
    for name, value in expected.items():
        if name == "get_cache_key":
            assert [own[name](k) for k in (1, "a", (2, 3))] == [value(k) for k in (1, "a", (2, 3))]
        elif name in ("_cache", "_queue"):
            assert own[name] == value and own[name] is not value  # empty, and its own
        else:
            assert own[name] is value or own[name] == value, name


class Doubles(SessionLoader[int, int]):
    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        return [k * 2 for k in keys]


class ByAbs(SessionLoader[int, int]):
    max_batch_size_default = 3

    def get_cache_key(self, key: int) -> int:
        return abs(key)

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        return [k * 2 for k in keys]


@pytest.mark.parametrize("cls", [Doubles, ByAbs, AssetByIdLoader, QuotesByAssetLoader])
async def test_every_loader_holds_what_aiodataloaders_constructor_sets(cls):
    first, second, third = (cls(SESSIONS) for _ in range(3))
    expected = aiodataloaders_own(cls)
    assert expected["loop"] is asyncio.get_running_loop()
    for built in (first, second, third):
        same_state(built, expected)
        assert built._identity_keys is (cls is not ByAbs)
        assert built.max_batch_size == cls.max_batch_size_default
        assert built.sessions is SESSIONS and isinstance(built.inflight, InFlight)
    assert second._cache is not third._cache and second._queue is not third._queue
    assert "get_cache_key" not in vars(ByAbs(SESSIONS))  # the class's own method is used


async def test_loaders_built_later_load_and_cache_like_the_first():
    for _ in range(3):
        loader = ByAbs(SESSIONS)
        assert await loader.load_all([1, -1, 2, 4, 5]) == [2, 2, 4, 8, 10]
        assert await loader.load(-2) == 4  # from the cache, by abs
        plain = Doubles(SESSIONS)
        assert await asyncio.gather(plain.load(3), plain.load(3)) == [6, 6]
        assert await plain.load_all([3, 7]) == [6, 14]


async def test_options_still_go_through_aiodataloader():
    loader = Doubles(SESSIONS, cache=False, max_batch_size=2)
    same_state(loader, aiodataloaders_own(Doubles, cache=False, max_batch_size=2))
    assert Doubles(SESSIONS, get_cache_key=str)._identity_keys is False
    with pytest.raises(AssertionError, match="batch_load_fn must be coroutine"):
        Doubles(SESSIONS, batch_load_fn=lambda keys: keys)
    plain = Doubles(SESSIONS)  # what was built with options is no model for the plain case
    same_state(plain, aiodataloaders_own(Doubles))
    assert plain._identity_keys is True


async def test_a_replaced_batch_function_is_checked_again(monkeypatch):
    class Later(SessionLoader[int, int]):
        async def batch_load_fn(self, keys: list[int]) -> list[int]:
            return keys

    Later(SESSIONS)
    Later(SESSIONS)

    def not_a_coroutine(self: Any, keys: list[int]) -> list[int]:
        return keys

    monkeypatch.setattr(Later, "batch_load_fn", not_a_coroutine)
    with pytest.raises(AssertionError, match="batch_load_fn must be coroutine"):
        Later(SESSIONS)


async def test_a_requests_loaders_are_built_once_each_and_share_its_inflight():
    loaders, other = Loaders(SESSIONS), Loaders(SESSIONS)
    assert vars(loaders).keys() == {"sessions", "inflight"}  # nothing built up front
    first = loaders.quotes_by_asset
    assert isinstance(first, QuotesByAssetLoader)
    assert loaders.quotes_by_asset is first  # cached on the instance
    assert vars(loaders)["quotes_by_asset"] is first
    assert first.inflight is loaders.inflight is loaders.asset_by_id.inflight
    assert first.sessions is SESSIONS
    assert other.quotes_by_asset is not first  # per request
    assert other.quotes_by_asset.inflight is other.inflight is not loaders.inflight
    assert isinstance(Loaders.quotes_by_asset, built_once)  # read on the class
