"""The two ways an operation is refused for its cost, with stable codes.

The codes are registered in ``resolvers.errors.ERROR_CODES`` and documented in
``docs/errors.md`` and ``docs/cost.md``; this package cannot import the
registry (it sits below the GraphQL layers), so the strings live here too.
"""

from __future__ import annotations

import math
from typing import Any

from graphql import GraphQLError

from cost.budget import BucketStatus

COST_ESTIMATED_TOO_EXPENSIVE = "COST_ESTIMATED_TOO_EXPENSIVE"
THROTTLED = "THROTTLED"


def too_expensive(
    estimated: int | None, maximum: int, tier: str, *, batch: int | None = None
) -> GraphQLError:
    """The static estimate is above the per-operation maximum: retrying cannot help."""
    if estimated is None:
        message = f"Operation is nested too deeply to be priced; the maximum cost is {maximum}"
    elif batch is not None:
        message = (
            f"Batch of {batch} operations estimated cost {estimated} exceeds the maximum of "
            f"{maximum} per request for the {tier!r} tier"
        )
    else:
        message = (
            f"Operation estimated cost {estimated} exceeds the maximum of {maximum} "
            f"per operation for the {tier!r} tier"
        )
    return GraphQLError(
        message,
        extensions={
            "code": COST_ESTIMATED_TOO_EXPENSIVE,
            "cost": {"estimated": estimated, "max": maximum},
        },
    )


def retry_after_seconds(seconds: float) -> int:
    """Whole seconds to wait, rounded up, at least 1 (the ``Retry-After`` value)."""
    if math.isinf(seconds):
        return 0
    return max(1, math.ceil(seconds))


def throttled(requested: int, status: BucketStatus, retry_after: float) -> GraphQLError:
    """The budget does not hold the requested cost now; it will after ``retry_after`` s."""
    wait = retry_after_seconds(retry_after)
    cost: dict[str, Any] = {
        "requestedQueryCost": requested,
        **status.as_dict(),
        "retryAfterSeconds": wait,
        "retryAfterMs": math.ceil(retry_after * 1000),
    }
    return GraphQLError(
        f"Throttled: this operation costs {requested} points and "
        f"{math.floor(status.currently_available)} are available; "
        f"retry in {wait} s",
        extensions={"code": THROTTLED, "cost": cost},
    )
