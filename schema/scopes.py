"""Which API-key scope each field needs, and the validation rule that enforces it.

Scopes are per data domain: ``prices``, ``signals``, ``onchain``,
``streaming`` and ``admin`` (``resolvers.principal.ALL_SCOPES``). A field's
requirement is looked up as:

1. ``FIELD_SCOPES["Type.field"]`` when listed (one or several scopes);
2. else ``TYPE_SCOPES["Type"]`` (the whole type belongs to a domain:
   every ``Chain`` field is on-chain data, every ``Subscription`` field is
   streaming);
3. else nothing beyond what the path to it already required: a ``Price``
   can only be reached through a field that needed ``prices``.

Rule 3 is only sound for types reached through fields; a type that a client
can reach through a type condition (``node(id:) { ... on Chain { … } }``, an
interface or a union) must therefore have a ``TYPE_SCOPES`` entry, and every
root field must be listed. ``tests/keys/test_scopes_map.py`` walks the schema
and fails when either is missing, so a new domain type cannot leak.

Enforcement is a GraphQL **validation rule**, added per request by the
:class:`ScopeGuard` extension for the caller's scope set. Validation runs
before any resolver, for queries and for subscriptions (HTTP and
WebSocket alike), and validation errors carry locations, so the client gets
one error per out-of-scope field, each with ``extensions.code = FORBIDDEN``,
the field coordinate and the scopes it needs, and nothing executes (and
nothing is charged). One rule class exists per distinct scope set (at most
2**5), so strawberry's validation cache keeps hitting. Introspection
(``__schema``/``__type``) is governed separately by ``app.limits``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, FieldNode, GraphQLError, ValidationContext
from strawberry.extensions import SchemaExtension

from resolvers.principal import ALL_SCOPES

Scopes = frozenset[str]
PUBLIC: Scopes = frozenset()

PRICES = frozenset({"prices"})
SIGNALS = frozenset({"signals"})
ONCHAIN = frozenset({"onchain"})
STREAMING = frozenset({"streaming"})
ADMIN = frozenset({"admin"})

ROOT_TYPES = ("Query", "Mutation", "Subscription")

#: Every object and interface type of the schema, by domain (a test keeps this complete).
TYPE_SCOPES: dict[str, Scopes] = {
    # identity, paging and cost plumbing: no scope of its own
    "Asset": PUBLIC,
    "AssetConnection": PUBLIC,
    "AssetEdge": PUBLIC,
    "Contract": PUBLIC,
    "Node": PUBLIC,
    "PageInfo": PUBLIC,
    "CostFieldBreakdown": PUBLIC,
    "CostModelInfo": PUBLIC,
    "CostTier": PUBLIC,
    "FieldCostInfo": PUBLIC,
    "RateLimit": PUBLIC,
    # prices: consensus prices, market figures, candles
    "Price": PRICES,
    "PriceSource": PRICES,
    "QuoteConversion": PRICES,
    "Market": PRICES,
    "Candle": PRICES,
    "LiveTick": PRICES,
    # signals: trading signals and the trader grade
    "Signal": SIGNALS,
    "Grade": SIGNALS,
    "GradeComponent": SIGNALS,
    # onchain: chains, blocks, gas, chain metrics, token activity
    "Chain": ONCHAIN,
    "Block": ONCHAIN,
    "BlockConnection": ONCHAIN,
    "BlockEdge": ONCHAIN,
    "Gas": ONCHAIN,
    "ChainMetricPoint": ONCHAIN,
    "AssetOnchain": ONCHAIN,
    "TokenActivity": ONCHAIN,
    "Transfer": ONCHAIN,
    # streaming: live events need streaming plus their data domain
    "Subscription": STREAMING,
    "LiveEvent": STREAMING,
    "PriceUpdate": STREAMING | PRICES,
    "CandleUpdate": STREAMING | PRICES,
    "SignalUpdate": STREAMING | SIGNALS,
    "BlockUpdate": STREAMING | ONCHAIN,
}

#: Root fields (all listed) and fields whose domain differs from their type's.
FIELD_SCOPES: dict[str, Scopes] = {
    "Query.asset": PUBLIC,
    "Query.assets": PUBLIC,
    "Query.node": PUBLIC,  # what a node reveals is checked on its type condition
    "Query.costModel": PUBLIC,
    "Query.rateLimit": PUBLIC,
    "Query.chain": ONCHAIN,
    "Query.chains": ONCHAIN,
    "Subscription.prices": STREAMING | PRICES,
    "Subscription.candles": STREAMING | PRICES,
    "Subscription.signals": STREAMING | SIGNALS,
    "Subscription.blocks": STREAMING | ONCHAIN,
    "Asset.price": PRICES,
    "Asset.market": PRICES,
    "Asset.candles": PRICES,
    "Asset.signals": SIGNALS,
    "Asset.grade": SIGNALS,
    "Asset.onchain": ONCHAIN,
}


def required_scopes(type_name: str, field_name: str) -> Scopes:
    """The scopes a caller needs to select ``type_name.field_name`` (rule order above)."""
    found = FIELD_SCOPES.get(f"{type_name}.{field_name}")
    if found is not None:
        return found
    return TYPE_SCOPES.get(type_name, PUBLIC)


def forbidden_error(coordinate: str, missing: Scopes, node: FieldNode) -> GraphQLError:
    names = sorted(missing)
    listed = ", ".join(f"'{s}'" for s in names)
    noun = "scope" if len(names) == 1 else "scopes"
    return GraphQLError(
        f"Field '{coordinate}' requires the {listed} {noun}, which this API key does not have.",
        node,
        extensions={"code": "FORBIDDEN", "field": coordinate, "requiredScopes": names},
    )


class _ScopeRule(ASTValidationRule):
    granted: Scopes = PUBLIC

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._reported: set[str] = set()

    def enter_field(self, node: FieldNode, *_args: Any) -> Any:
        name = node.name.value
        if name.startswith("__"):
            return None  # __typename is harmless; __schema/__type: see app.limits
        context = self.context
        assert isinstance(context, ValidationContext)
        parent = context.get_parent_type()
        if parent is None:
            return None  # an unknown type: the spec rules report it
        missing = required_scopes(parent.name, name) - self.granted
        if not missing:
            return None
        coordinate = f"{parent.name}.{name}"
        if coordinate not in self._reported:
            self._reported.add(coordinate)
            self.report_error(forbidden_error(coordinate, missing, node))
        return self.SKIP  # the whole subtree is refused: one error is enough


@lru_cache(maxsize=64)
def scope_rule(granted: Scopes) -> type[ASTValidationRule]:
    """The rule class for one scope set (cached: the validation cache keys on rule classes)."""
    granted = frozenset(granted) & ALL_SCOPES
    label = "_".join(sorted(granted)) or "none"
    return type(f"ScopeRule_{label}", (_ScopeRule,), {"granted": granted})


class ScopeGuard(SchemaExtension):
    """Adds the caller's scope rule to validation (register it in ``schema.build``).

    The caller is ``context.principal`` (set by the API-key middleware or the
    WebSocket init). A context without a principal gets no scopes at all: the
    guard fails closed.
    """

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        principal = getattr(ec.context, "principal", None)
        granted: Scopes = frozenset(principal.scopes) if principal is not None else PUBLIC
        ec.validation_rules = (*ec.validation_rules, scope_rule(granted))
        yield
