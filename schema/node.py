"""The Relay ``Node`` interface: global object identification across domains."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description=(
        "An object with a stable, opaque global id. Pass the id to `node(id:)` to fetch "
        "the object again (Relay object identification)."
    )
)
class Node:
    @strawberry.field(description="Opaque global id; do not parse it, its format may change.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError
