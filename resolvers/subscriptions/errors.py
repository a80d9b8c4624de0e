"""Errors of live subscriptions, each with its ``extensions.code`` (docs/subscriptions.md)."""

from __future__ import annotations

from resolvers.errors import CryptoQLError


class ReplayUnavailable(CryptoQLError):
    """``after`` points before the replay window (or into another numbering epoch).

    The client cannot get an exact continuation: it must refetch the state with
    a query and subscribe again without ``after``. ``oldest`` is the oldest seq
    still retained per channel, when known.
    """

    code = "REPLAY_WINDOW_EXCEEDED"

    def __init__(self, message: str, *, oldest: dict[str, int] | None) -> None:
        super().__init__(message, extensions={"oldest": oldest} if oldest else None)


class StreamInterrupted(CryptoQLError):
    """The server lost events of this stream and cannot replay them (or the broker is down).

    Resubscribing with the last cursor resumes exactly when the gap is still
    inside the replay window; otherwise the resubscription says
    ``REPLAY_WINDOW_EXCEEDED``.
    """

    code = "STREAM_INTERRUPTED"


class SubscriptionLimit(CryptoQLError):
    """Too many active subscriptions on this connection or for this API key."""

    code = "SUBSCRIPTION_LIMIT"


class Throttled(CryptoQLError):
    """The caller's cost budget is exhausted; ``retryAfter`` says for how long."""

    code = "THROTTLED"
