"""IBM cost-directive semantics as strawberry schema directives.

``@cost(weight:)`` and ``@listSize(assumedSize:, slicingArguments:, sizedFields:,
requireOneSlicingArgument:)`` are declared on fields and types in ``schema/`` and
appear in the exported SDL. The analyser in this package reads them back from
the strawberry definitions, so the schema is the single source of truth.
"""

from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.schema_directive import Location


@strawberry.schema_directive(
    name="cost",
    locations=[
        Location.FIELD_DEFINITION,
        Location.OBJECT,
        Location.ARGUMENT_DEFINITION,
        Location.SCALAR,
        Location.ENUM,
        Location.INPUT_FIELD_DEFINITION,
    ],
    description="Cost weight of a field or type (IBM cost spec; a serialized Float).",
)
class Cost:
    weight: str


@strawberry.schema_directive(
    name="listSize",
    locations=[Location.FIELD_DEFINITION],
    description=(
        "How many items a list field returns: the value of a slicing argument, "
        "or assumedSize (IBM cost spec)."
    ),
)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: list[str] | None = None
    sized_fields: list[str] | None = None
    require_one_slicing_argument: bool = True


def cost(weight: float) -> Cost:
    """``@cost(weight: "<weight>")`` with the weight serialised as the spec asks."""
    return Cost(weight=repr(float(weight)))


def list_size(
    *,
    assumed_size: int | None = None,
    slicing_arguments: list[str] | None = None,
    sized_fields: list[str] | None = None,
    require_one_slicing_argument: bool = True,
) -> ListSize:
    """``@listSize(...)``; arguments left at their defaults are left out of the SDL."""
    return ListSize(
        assumed_size=UNSET if assumed_size is None else assumed_size,
        slicing_arguments=UNSET if slicing_arguments is None else slicing_arguments,
        sized_fields=UNSET if sized_fields is None else sized_fields,
        require_one_slicing_argument=UNSET
        if require_one_slicing_argument
        else require_one_slicing_argument,
    )
