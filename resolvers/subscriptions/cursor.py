"""Resume cursors: where a subscription stood, per channel, in one string.

A subscription reads one broker channel per asset (or chain), each numbered
independently, so its position is a vector: ``1.<epoch>.<digest>.<seq>.<seq>…``
with one sequence number per channel in the subscription's canonical
(sorted) channel order. ``epoch`` is the broker's numbering epoch (a restart
of the in-process broker or a flushed Redis renumbers from 1, and an old
cursor must not be matched against new numbers); ``digest`` names the channel
set, so a cursor from another subscription is refused rather than misread.
Clients treat the cursor as opaque.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from resolvers.errors import BadUserInput
from resolvers.subscriptions.errors import ReplayUnavailable

VERSION = "1"


def digest(channels: Sequence[str]) -> str:
    return hashlib.blake2b("\n".join(channels).encode(), digest_size=4).hexdigest()


def encode(epoch: str, channels: Sequence[str], positions: Mapping[str, int], dig: str) -> str:
    seqs = ".".join(str(positions.get(ch, 0)) for ch in channels)
    return f"{VERSION}.{epoch}.{dig}.{seqs}"


def decode(cursor: str, epoch: str, channels: Sequence[str]) -> dict[str, int]:
    """Positions per channel; raises ``BAD_USER_INPUT`` or ``REPLAY_WINDOW_EXCEEDED``."""
    parts = cursor.split(".")
    if len(parts) != 3 + len(channels) or parts[0] != VERSION:
        raise BadUserInput("`after` is not a cursor of this subscription")
    _version, cur_epoch, cur_digest, *seqs = parts
    if cur_digest != digest(channels):
        raise BadUserInput("`after` is a cursor of a different subscription (other channels)")
    try:
        values = [int(s) for s in seqs]
    except ValueError:
        raise BadUserInput("`after` is not a cursor of this subscription") from None
    if any(v < 0 for v in values):
        raise BadUserInput("`after` is not a cursor of this subscription")
    if cur_epoch != epoch:
        raise ReplayUnavailable(
            "The event numbering restarted since this cursor was issued; "
            "refetch the current state with a query and subscribe without `after`",
            oldest=None,
        )
    return dict(zip(channels, values, strict=True))
