"""Per-field scopes: the map covers the schema; out-of-scope fields are refused before execution."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType, GraphQLUnionType

from resolvers.principal import ALL_SCOPES, Principal
from schema.build import build_schema
from schema.scopes import FIELD_SCOPES, ROOT_TYPES, TYPE_SCOPES, required_scopes
from tests.keys.conftest import engine_statements, keyed_app, post

SCHEMA = build_schema()
TYPES = {
    name: t
    for name, t in SCHEMA._schema.type_map.items()
    if not name.startswith("__")
    and isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
}


def test_every_root_field_has_a_scope_mapping():
    missing = [
        f"{root}.{field}"
        for root in ROOT_TYPES
        if root in TYPES
        for field in TYPES[root].fields
        if f"{root}.{field}" not in FIELD_SCOPES and root not in TYPE_SCOPES
    ]
    assert not missing, f"root fields without a scope in schema/scopes.py FIELD_SCOPES: {missing}"


def test_every_type_has_a_domain():
    """New types must be placed in a domain, so no type condition can reach unscoped data."""
    missing = sorted(
        name for name, t in TYPES.items() if name not in TYPE_SCOPES and name not in ROOT_TYPES[:2]
    )
    assert not missing, f"types without an entry in schema/scopes.py TYPE_SCOPES: {missing}"


def test_the_map_names_real_fields_and_scopes():
    stale = [name for name in TYPE_SCOPES if name not in TYPES]
    for coordinate in FIELD_SCOPES:
        type_name, _, field = coordinate.partition(".")
        if type_name not in TYPES or field not in TYPES[type_name].fields:
            stale.append(coordinate)
    assert not stale, f"scope entries for types/fields that do not exist: {stale}"
    used = set().union(*TYPE_SCOPES.values(), *FIELD_SCOPES.values())
    assert used <= ALL_SCOPES


@pytest.mark.parametrize(
    ("coordinate", "scopes"),
    [
        ("Asset.price", {"prices"}),
        ("Asset.candles", {"prices"}),
        ("Asset.signals", {"signals"}),
        ("Asset.grade", {"signals"}),
        ("Asset.onchain", {"onchain"}),
        ("Asset.symbol", set()),
        ("Query.chains", {"onchain"}),
        ("Chain.name", {"onchain"}),
        ("Subscription.prices", {"streaming", "prices"}),
        ("Subscription.blocks", {"streaming", "onchain"}),
        ("Price.value", {"prices"}),
    ],
)
def test_required_scopes(coordinate, scopes):
    type_name, _, field = coordinate.partition(".")
    assert required_scopes(type_name, field) == scopes


def _forbidden(body):
    assert body.get("data") is None
    return sorted(
        (e["extensions"]["field"], tuple(e["extensions"]["requiredScopes"]))
        for e in body["errors"]
        if e["extensions"]["code"] == "FORBIDDEN"
    )


async def test_out_of_scope_fields_are_refused_before_execution(db, tmp_path):
    query = """
        fragment G on Asset { grade { value } }
        query Q {
          asset(id: "bitcoin") { symbol price { value } signals { value } ...G }
          chains { name }
        }
    """
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(scopes=["prices"])
        warm = await post(
            k.client, '{ asset(id: "bitcoin") { symbol } }', **{"X-API-Key": issued.key}
        )
        assert warm.status_code == 200
        with engine_statements(k) as sql:
            resp = await post(k.client, query, **{"X-API-Key": issued.key})
        allowed = await post(
            k.client,
            '{ asset(id: "bitcoin") { symbol price { value } } }',
            **{"X-API-Key": issued.key},
        )
    body = resp.json()
    assert _forbidden(body) == [
        ("Asset.grade", ("signals",)),
        ("Asset.signals", ("signals",)),
        ("Query.chains", ("onchain",)),
    ]
    message = next(
        e["message"] for e in body["errors"] if e["extensions"]["field"] == "Asset.signals"
    )
    assert message == (
        "Field 'Asset.signals' requires the 'signals' scope, which this API key does not have."
    )
    assert sql == []  # nothing executed (the key itself came from the warm cache)
    assert resp.headers["x-ratelimit-cost"] == "0"  # and nothing charged
    assert allowed.status_code == 200
    assert "errors" not in allowed.json()


async def test_type_conditions_cannot_reach_other_domains(db, tmp_path):
    query = (
        '{ node(id: "anything") { id ... on Chain { name blocks(first: 1) { nodes { hash } } } } }'
    )
    async with keyed_app(db.url, tmp_path) as k:
        issued = await k.issue(scopes=["prices"])
        resp = await post(k.client, query, **{"X-API-Key": issued.key})
    assert _forbidden(resp.json()) == [("Chain.blocks", ("onchain",)), ("Chain.name", ("onchain",))]


async def test_anonymous_callers_have_the_default_scopes(db, tmp_path):
    async with keyed_app(db.url, tmp_path, anonymous_scopes=["prices"]) as k:
        ok = await post(k.client, '{ asset(id: "x") { price { value } } }')
        refused = await post(k.client, '{ asset(id: "x") { grade { value } } }')
    assert ok.status_code == 200
    assert "errors" not in ok.json()
    assert _forbidden(refused.json()) == [("Asset.grade", ("signals",))]


@dataclass
class _Ctx:
    principal: Principal


async def test_subscriptions_need_streaming_and_their_domain():
    """The same rule runs for subscriptions (strawberry validates before subscribing)."""
    query = 'subscription { prices(assetIds: ["bitcoin"]) { seq price { value } } }'
    no_streaming = _Ctx(Principal(client_ip="x", key_id="k", scopes=frozenset({"prices"})))
    result = await SCHEMA.subscribe(query, context_value=no_streaming)
    first = await anext(result) if hasattr(result, "__anext__") else result
    codes = [(e.extensions or {}).get("code") for e in first.errors or []]
    fields = sorted((e.extensions or {}).get("field") for e in first.errors or [])
    assert codes == ["FORBIDDEN"]
    assert fields == ["Subscription.prices"]


async def test_production_introspection_follows_the_key(db, tmp_path):
    """Production: introspection off for anonymous and ordinary keys, on for the listed tiers
    and for admin keys (the policy lives in app.limits; the principal comes from here)."""
    query = "{ __schema { queryType { name } } }"
    async with keyed_app(db.url, tmp_path, env="production") as k:
        internal = await k.issue(tier="internal")
        admin = await k.issue(tier="free", scopes=["admin"])
        free = await k.issue(tier="free")
        assert internal.key.startswith("cq_live_")
        results = {
            "anonymous": await post(k.client, query),
            "free": await post(k.client, query, **{"X-API-Key": free.key}),
            "internal": await post(k.client, query, **{"X-API-Key": internal.key}),
            "admin": await post(k.client, query, **{"X-API-Key": admin.key}),
        }
    bodies = {who: r.json() for who, r in results.items()}
    for who in ("internal", "admin"):
        assert bodies[who]["data"] == {"__schema": {"queryType": {"name": "Query"}}}, who
    for who in ("anonymous", "free"):
        assert bodies[who].get("data") is None, who
        assert [e["extensions"]["code"] for e in bodies[who]["errors"]] == [
            "INTROSPECTION_DISABLED"
        ]
