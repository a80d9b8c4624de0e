"""The cost model read from the schema: every list and connection declares its price."""

from __future__ import annotations

from pathlib import Path

import strawberry

from cost.directives import cost, list_size
from cost.intervals import interval_seconds
from cost.model import build_model
from resolvers.intervals import INTERVALS
from schema.build import build_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_schema()
MODEL = build_model(SCHEMA._schema)


def test_every_list_and_connection_field_declares_its_cost():
    missing = MODEL.undeclared_list_fields()
    assert not missing, (
        "list/connection fields without @listSize or @cost (add "
        "directives=[list_size(...)] from cost.directives): " + ", ".join(missing)
    )


@strawberry.type
class Item:
    name: str


@strawberry.type
class ItemEdge:
    node: Item


@strawberry.type
class ItemConnection:
    edges: list[ItemEdge]


@strawberry.type
class UndeclaredQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return []

    @strawberry.field
    def page(self, first: int = 10) -> ItemConnection:
        return ItemConnection(edges=[])

    @strawberry.field(directives=[list_size(assumed_size=5)])
    def declared(self) -> list[Item]:
        return []

    @strawberry.field(directives=[cost(3)])
    def weighted(self) -> list[Item]:
        return []

    @strawberry.field
    def tags(self) -> list[str]:  # a list of scalars weighs 0 whatever its length
        return []

    @strawberry.field(directives=[list_size(slicing_arguments=["first"], sized_fields=["edges"])])
    def sized(self, first: int = 10) -> ItemConnection:
        return ItemConnection(edges=[])


def test_the_walk_names_undeclared_fields():
    toy = build_model(strawberry.Schema(query=UndeclaredQuery)._schema)
    # ItemConnection.edges is sized by `sized` but not by `page`, which is itself undeclared
    assert toy.undeclared_list_fields() == [
        "ItemConnection.edges",
        "UndeclaredQuery.items",
        "UndeclaredQuery.page",
    ]


def test_time_series_fields_are_recognised_and_their_intervals_priced():
    series = {f"{fc.parent}.{fc.name}" for fc in MODEL.fields.values() if fc.time_series}
    assert {"Asset.candles", "Chain.metrics"} <= series
    for name in INTERVALS:  # every interval the resolvers accept has a length for pricing
        assert interval_seconds(name) is not None, name
    assert interval_seconds("1M") == 28 * 86400  # the shortest month: an upper bound


def test_weights_are_in_the_exported_sdl():
    sdl = SCHEMA.as_str()
    assert "directive @cost(weight: String!)" in sdl
    assert "directive @listSize(" in sdl
    assets = next(
        line for line in sdl.splitlines() if line.strip().startswith("): AssetConnection")
    )
    assert '@listSize(slicingArguments: ["first"], sizedFields: ["edges", "nodes"])' in assets
    committed = (ROOT / "schema.graphql").read_text()
    assert "@listSize" in committed


def test_defaults_follow_the_ibm_spec():
    assert MODEL.type_weight("Asset") == 1  # objects
    assert MODEL.type_weight("String") == 0  # scalars
    assert MODEL.type_weight("SignalDirection") == 0  # enums
    assert MODEL.field_cost("Asset", "symbol").weight == 0
    assert MODEL.field_cost("Asset", "price").weight == 1
    assert MODEL.field_cost("Asset", "candles").weight == 2  # declared per candle
    assert MODEL.field_cost("Query", "rateLimit").weight == 0  # the budget field is free
