"""Shared base for loaders: each batch gets its own short session."""

from __future__ import annotations

from typing import Any, TypeVar

from aiodataloader import DataLoader

from storage.engine import SessionFactory

K = TypeVar("K")
V = TypeVar("V")


class SessionLoader(DataLoader[K, V]):
    """A DataLoader holding the session factory its batch function opens sessions from."""

    max_batch_size_default = 1000

    def __init__(self, sessions: SessionFactory, **kwargs: Any) -> None:
        kwargs.setdefault("max_batch_size", self.max_batch_size_default)
        super().__init__(**kwargs)
        self.sessions = sessions
