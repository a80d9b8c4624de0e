"""What a cached answer depends on: the data domains a document reads, and the clock.

Ingest bumps one *data version* per domain after every commit that changed it
(``pubsub.channels.data_version``): ``assets`` (identities, chains, contracts),
``quotes`` (prices and market figures), ``candles``, ``signals`` (signal values
and grades) and ``onchain`` (blocks, gas, chain metrics, transfers, and the
on-chain signals). A cached answer is reused only while every domain it read
still has the version it had before the answer was computed.

Which domains a document reads is decided per selected field:

1. ``FIELD_DOMAINS["Type.field"]`` when listed (fields whose resolver reads
   more than its type suggests, e.g. ``Query.assets`` orders by the latest
   quotes and grades, and leaf fields that load data themselves);
2. else, for a field returning an object, interface or union: the domains of
   the returned type, ``TYPE_DOMAINS[name]`` (the resolver loads those rows);
3. else nothing: a leaf read from an object already loaded (``Asset.symbol``).

Rule 3 holds because only asynchronous resolvers can load anything (loaders
are async); ``tests/cache/test_domains_map.py`` walks the schema and fails when
an object type has no entry or an asynchronous leaf field is not listed, so a
new type cannot silently escape invalidation. A type that is not in the map at
run time counts as reading every domain.

Types in ``UNCACHEABLE_TYPES`` make a document uncacheable (the caller's budget
changes with every request; subscription payloads are not queries).

The clock: a root field read without ``asOf`` reads "now". Nearly every value
below it moves with time even when no row changes (ages, ``stale`` flags, the
consensus dropping a quote that turned stale, candle and activity windows
ending now, look-back limits), so such an answer is *live* and is kept only a
short, documented time (``response_cache_live_ttl_seconds``). A document whose
every root is pinned by ``asOf`` (or reads no instant at all, like
``costModel``) depends on stored data only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
    print_ast,
)

Domains = frozenset[str]

DOMAINS: tuple[str, ...] = ("assets", "quotes", "candles", "signals", "onchain")
ALL: Domains = frozenset(DOMAINS)
NONE: Domains = frozenset()
ASSETS: Domains = frozenset({"assets"})
QUOTES: Domains = frozenset({"quotes"})
CANDLES: Domains = frozenset({"candles"})
# signal values are written by the signal engine (signals) and the on-chain pump (onchain)
SIGNALS: Domains = frozenset({"signals", "onchain"})
ONCHAIN: Domains = frozenset({"onchain"})

#: Every object and interface type queries can reach, by the data it is loaded from.
TYPE_DOMAINS: dict[str, Domains] = {
    "Asset": ASSETS,
    "AssetConnection": ASSETS,
    "AssetEdge": NONE,
    "PageInfo": NONE,
    "AssetOnchain": NONE,  # a wrapper; its fields load what they show
    "Contract": ASSETS,
    "Chain": ASSETS | ONCHAIN,
    "Node": ASSETS | ONCHAIN,
    "Price": QUOTES,
    "PriceSource": QUOTES,
    "QuoteConversion": QUOTES,
    "Market": QUOTES,
    "Candle": CANDLES,
    "Signal": SIGNALS,
    "Grade": SIGNALS,
    "GradeComponent": NONE,
    "Block": ONCHAIN,
    "BlockConnection": ONCHAIN,
    "BlockEdge": ONCHAIN,
    "Gas": ONCHAIN,
    "ChainMetricPoint": ONCHAIN,
    "TokenActivity": ONCHAIN,
    "Transfer": ONCHAIN,
    # the published cost model: configuration, no stored data
    "CostModelInfo": NONE,
    "CostTier": NONE,
    "FieldCostInfo": NONE,
}

#: Fields that read more than rule 2 or 3 says.
FIELD_DOMAINS: dict[str, Domains] = {
    # ordering and filters use the latest quotes (market cap, volume, change) and grades
    "Query.assets": ASSETS | QUOTES | SIGNALS,
    "AssetConnection.totalCount": ASSETS | QUOTES | SIGNALS,
    # asynchronous leaves: they load transfers themselves
    "TokenActivity.transferCount": ONCHAIN,
    "TokenActivity.transferVolume": ONCHAIN,
    "TokenActivity.lastTransferAt": ONCHAIN,
}

#: Types whose presence makes a document uncacheable, with the reason.
UNCACHEABLE_TYPES: dict[str, str] = {
    "RateLimit": "rateLimit reports the caller's budget as of this request",
    "CostFieldBreakdown": "rateLimit reports the caller's budget as of this request",
    "Subscription": "subscriptions are live streams",
    "LiveEvent": "subscription payload",
    "LiveTick": "subscription payload",
    "PriceUpdate": "subscription payload",
    "CandleUpdate": "subscription payload",
    "SignalUpdate": "subscription payload",
    "BlockUpdate": "subscription payload",
}

#: Root fields that read at an instant: pinned when ``asOf`` is given, else live.
PINNABLE_ROOTS = frozenset({"asset", "assets", "chain", "chains"})
#: Root fields that read no instant (configuration, schema).
TIMELESS_ROOTS = frozenset({"costModel", "__typename", "__schema", "__type"})


@dataclass(frozen=True, slots=True)
class RootRead:
    """One root field and, when it takes one, its ``asOf`` argument (None: not given)."""

    name: str
    as_of: ValueNode | None = None


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What caching needs to know about one operation of one document."""

    digest: str
    """sha256 of the printed document (formatting and comments do not matter)."""
    operation_name: str | None
    operation_type: str | None
    domains: Domains
    uncacheable: str | None
    roots: tuple[RootRead, ...] = ()

    @property
    def cacheable(self) -> bool:
        return self.operation_type == "query" and self.uncacheable is None

    def is_live(self, variables: Mapping[str, Any] | None) -> bool:
        """True when some root reads at the request time (no ``asOf`` value)."""
        for root in self.roots:
            if root.name in TIMELESS_ROOTS:
                continue
            if root.name not in PINNABLE_ROOTS:
                return True  # node(id:) and any root we do not know: read now
            value = root.as_of
            if value is None or isinstance(value, NullValueNode):
                return True
            if isinstance(value, VariableNode) and (variables or {}).get(value.name.value) is None:
                return True  # a variable's default is not looked at: live is the safe side
        return False


@dataclass(slots=True)
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    domains: set[str] = field(default_factory=set)
    uncacheable: str | None = None
    seen: set[str] = field(default_factory=set)

    def selection_set(self, parent: GraphQLNamedType, selections: SelectionSetNode) -> None:
        for sel in selections.selections:
            if isinstance(sel, FieldNode):
                self.field(parent, sel)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                self.typed(target, sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self.seen:
                    continue  # unknown or cyclic: validation refuses the document
                self.seen.add(name)
                target = self.schema.get_type(fragment.type_condition.name.value)
                self.typed(target, fragment.selection_set)

    def typed(self, target: GraphQLNamedType | None, selections: SelectionSetNode) -> None:
        if target is None:
            self.domains |= ALL
            return
        self.selection_set(target, selections)

    def field(self, parent: GraphQLNamedType, node: FieldNode) -> None:
        name = node.name.value
        if name.startswith("__"):
            return  # __typename, __schema, __type: the schema and the caller's visibility
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if isinstance(fields, dict) else None
        if definition is None:
            self.domains |= ALL  # unknown: validation refuses it, but never under-count
            return
        named = get_named_type(definition.type)
        reason = UNCACHEABLE_TYPES.get(named.name)
        if reason is not None and self.uncacheable is None:
            self.uncacheable = reason
        listed = FIELD_DOMAINS.get(f"{parent.name}.{name}")
        if listed is not None:
            self.domains |= listed
        elif is_composite_type(named):
            self.domains |= TYPE_DOMAINS.get(named.name, ALL)
        if node.selection_set is not None and is_composite_type(named):
            self.selection_set(named, node.selection_set)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _roots(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> list[RootRead]:
    out: list[RootRead] = []
    for sel in selections.selections:
        if isinstance(sel, FieldNode):
            arg = next((a for a in sel.arguments or () if a.name.value == "asOf"), None)
            out.append(RootRead(sel.name.value, arg.value if arg else None))
        elif isinstance(sel, InlineFragmentNode):
            out += _roots(sel.selection_set, fragments, seen)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
            seen.add(sel.name.value)
            fragment = fragments.get(sel.name.value)
            if fragment is not None:
                out += _roots(fragment.selection_set, fragments, seen)
    return out


def document_digest(document: DocumentNode) -> str:
    return hashlib.sha256(print_ast(document).encode()).hexdigest()


def analyse(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> DocumentFacts:
    """The facts of the operation ``operation_name`` selects (or the only one)."""
    digest = document_digest(document)
    operation = _operation(document, operation_name)
    if operation is None:
        return DocumentFacts(digest, operation_name, None, ALL, "no single operation selected")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    kind = operation.operation.value
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments)
    if root is None:
        return DocumentFacts(digest, operation_name, kind, ALL, "the schema has no such root")
    walk.selection_set(root, operation.selection_set)
    name = operation.name.value if operation.name else operation_name
    roots = tuple(_roots(operation.selection_set, fragments, set()))
    return DocumentFacts(digest, name, kind, frozenset(walk.domains), walk.uncacheable, roots)


def object_types(schema: GraphQLSchema) -> list[GraphQLObjectType | GraphQLInterfaceType]:
    """The object and interface types of ``schema`` (for the completeness test)."""
    return [
        t
        for name, t in schema.type_map.items()
        if not name.startswith("__") and isinstance(t, (GraphQLObjectType, GraphQLInterfaceType))
    ]


__all__ = [
    "ALL",
    "DOMAINS",
    "FIELD_DOMAINS",
    "PINNABLE_ROOTS",
    "TIMELESS_ROOTS",
    "TYPE_DOMAINS",
    "UNCACHEABLE_TYPES",
    "DocumentFacts",
    "RootRead",
    "analyse",
    "document_digest",
    "object_types",
]
