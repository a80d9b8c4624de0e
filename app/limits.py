"""Static limits checked before validation and execution: a rejected document costs little.

One ~300-byte query can pin a plain strawberry server's CPU (deep fan-out), and
graphql-core's own validation is super-linear on some shapes that fit easily
under any token cap: 5,000 copies of one field take ~1.4 s in
``OverlappingFieldsCanBeMerged``, 550 tiny fragments ~3.4 s, 1,500 aliases
~0.7 s (measured on the 2-core dev box). So the order is:

1. the parser's caps abort huge documents while they are read: characters
   (``max_document_chars``, checked before lexing: the lexer walks long runs of
   whitespace or one giant token in Python) and tokens (``max_tokens``,
   comments included);
2. one linear walk of the parsed document (:class:`DocumentLimits`) checks
   depth, aliases and directives per operation *with fragments expanded* (a
   fragment spread ten times counts ten times; memoised per fragment; safe on
   cycles, which the spec rule ``NoFragmentCycles`` reports), and the
   structural caps that bound validation cost: selections per selection set,
   fragments per document, variables per operation. Any violation is reported
   as the pre-validation result, so graphql-core's validation never runs on it;
3. then the spec validation rules, plus the introspection policy.

Introspection fields are not counted for depth: graphql-core's
``MaxIntrospectionDepthRule`` bounds them, and the policy decides whether they
are allowed at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    specified_rules,
)
from graphql.validation.rules.max_introspection_depth_rule import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension

from app.document_cache import known_passed, remember_passed
from app.introspection import (
    INTROSPECTION_FIELDS,
    IntrospectionPolicy,
    NoIntrospectionRule,
    introspection_policy,
)
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 30
    max_directives: int = 50
    max_selections: int = 200
    max_fragments: int = 50
    max_variables: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_directives=settings.max_directives,
            max_selections=settings.max_selections,
            max_fragments=settings.max_fragments,
            max_variables=settings.max_variables,
        )


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    directives: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.directives + other.directives,
        )


class _TooWide(Exception):
    def __init__(self, node: SelectionSetNode, count: int) -> None:
        self.node, self.count = node, count


class DocumentLimits:
    """Measures one parsed document against :class:`Limits` (linear in its size)."""

    def __init__(self, document: DocumentNode, limits: Limits) -> None:
        self.limits = limits
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._memo: dict[str, Measure] = {}
        self._in_progress: set[str] = set()
        self._widths: dict[int, int] = {}

    def errors(self) -> list[GraphQLError]:
        lim = self.limits
        if len(self.fragments) > lim.max_fragments:
            return [
                _error(
                    None,
                    "FRAGMENT_LIMIT_EXCEEDED",
                    f"The document defines {len(self.fragments)} fragments; "
                    f"the maximum is {lim.max_fragments}.",
                    {"fragments": len(self.fragments), "maxFragments": lim.max_fragments},
                )
            ]
        errors: list[GraphQLError] = []
        for op in self.operations:
            errors.extend(self._operation(op))
        return errors

    def _operation(self, op: OperationDefinitionNode) -> list[GraphQLError]:
        lim = self.limits
        name = f"Operation '{op.name.value}'" if op.name else "The anonymous operation"
        variables = len(op.variable_definitions or ())
        if variables > lim.max_variables:
            return [
                _error(
                    op,
                    "VARIABLE_LIMIT_EXCEEDED",
                    f"{name} declares {variables} variables; the maximum is {lim.max_variables}.",
                    {"variables": variables, "maxVariables": lim.max_variables},
                )
            ]
        try:
            measure = self._selection_set(op.selection_set)
        except _TooWide as wide:
            return [
                _error(
                    wide.node,
                    "SELECTION_LIMIT_EXCEEDED",
                    f"A selection set in {name[0].lower()}{name[1:]} merges {wide.count} "
                    f"fields; the maximum is {lim.max_selections}.",
                    {"selections": wide.count, "maxSelections": lim.max_selections},
                )
            ]
        except RecursionError:
            return [_error(op, "DEPTH_LIMIT_EXCEEDED", f"{name} is nested too deeply.", {})]
        own = len(op.directives or ()) + sum(
            len(v.directives or ()) for v in op.variable_definitions or ()
        )
        measure = measure + Measure(directives=own)
        errors = []
        if measure.depth > lim.max_depth:
            errors.append(
                _error(
                    op,
                    "DEPTH_LIMIT_EXCEEDED",
                    f"{name} has depth {measure.depth}; the maximum is {lim.max_depth}.",
                    {"depth": measure.depth, "maxDepth": lim.max_depth},
                )
            )
        if measure.aliases > lim.max_aliases:
            errors.append(
                _error(
                    op,
                    "ALIAS_LIMIT_EXCEEDED",
                    f"{name} uses {measure.aliases} aliases; the maximum is {lim.max_aliases}.",
                    {"aliases": measure.aliases, "maxAliases": lim.max_aliases},
                )
            )
        if measure.directives > lim.max_directives:
            errors.append(
                _error(
                    op,
                    "DIRECTIVE_LIMIT_EXCEEDED",
                    f"{name} uses {measure.directives} directives; "
                    f"the maximum is {lim.max_directives}.",
                    {"directives": measure.directives, "maxDirectives": lim.max_directives},
                )
            )
        return errors

    def _check_width(self, selection_set: SelectionSetNode) -> None:
        """Bounds graphql-core's pairwise field comparisons within one merged selection set."""
        width = self._width(selection_set)
        if width > self.limits.max_selections:
            raise _TooWide(selection_set, width)

    def _width(self, selection_set: SelectionSetNode) -> int:
        """Fields in the set once inline fragments and fragment spreads are merged in."""
        key = id(selection_set)
        if key in self._widths:
            return self._widths[key]
        self._widths[key] = 0  # a cycle through fragments adds nothing
        width = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                width += 1
            elif isinstance(sel, InlineFragmentNode):
                width += self._width(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                fragment = self.fragments.get(sel.name.value)
                if fragment is not None:
                    width += self._width(fragment.selection_set)
        self._widths[key] = width
        return width

    def _selection_set(self, selection_set: SelectionSetNode | None) -> Measure:
        if selection_set is None:
            return Measure()
        self._check_width(selection_set)
        total = Measure()
        for sel in selection_set.selections:
            here = Measure(directives=len(sel.directives or ()))
            if isinstance(sel, FieldNode):
                if sel.name.value not in INTROSPECTION_FIELDS:
                    child = self._selection_set(sel.selection_set)
                    here = here + Measure(1 + child.depth, child.aliases, child.directives)
                    if sel.alias:
                        here = here + Measure(aliases=1)
            elif isinstance(sel, InlineFragmentNode):
                here = here + self._selection_set(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                here = here + self._fragment(sel.name.value)
            total = total + here
        return total

    def _fragment(self, name: str) -> Measure:
        if name in self._memo:
            return self._memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._in_progress:
            return Measure()  # unknown or cyclic: the spec rules report it
        self._in_progress.add(name)
        try:
            measure = self._selection_set(fragment.selection_set) + Measure(
                directives=len(fragment.directives or ())
            )
        finally:
            self._in_progress.discard(name)
        self._memo[name] = measure
        return measure


def _limit_errors(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """The document's limit errors; a document that passed these limits before (the
    same parsed object, shared through ``app.document_cache``) is not walked again.
    Refusals are never remembered, so an error is always built fresh."""
    if known_passed(limits, document):
        return []
    errors = DocumentLimits(document, limits).errors()
    if not errors:
        remember_passed(limits, document)
    return errors


def _error(node: Any, code: str, message: str, extra: dict[str, int]) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": code, **extra})


class QueryLimits(SchemaExtension):
    """Token cap on parsing, the document walk before validation, the introspection rule."""

    def __init__(
        self,
        *,
        max_tokens: int,
        max_chars: int,
        limits: Limits,
        introspection_allowed: IntrospectionPolicy,
    ) -> None:
        self.parse_options = {"max_tokens": max_tokens, "max_source_length": max_chars}
        self.limits = limits
        self.introspection_allowed = introspection_allowed

    def on_operation(self) -> Iterator[None]:
        # strawberry types parse_options with max_tokens only; graphql-core's parse()
        # takes max_source_length too.
        options = cast("dict[str, Any]", self.execution_context.parse_options)
        options.update(self.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None and ec.pre_execution_errors is None:
            errors = _limit_errors(document, self.limits)
            if errors:
                ec.pre_execution_errors = errors  # strawberry then skips validation
        extra = _EXTRA_RULES
        if not self.introspection_allowed(ec.context):
            extra = (*extra, NoIntrospectionRule)
        if extra:
            ec.validation_rules = (*ec.validation_rules, *extra)
        yield


#: graphql-core 3.3 already validates introspection depth; older versions need the rule.
_EXTRA_RULES: tuple[type[ASTValidationRule], ...] = (
    () if MaxIntrospectionDepthRule in specified_rules else (MaxIntrospectionDepthRule,)
)


def query_limits(settings: Settings) -> Callable[[], SchemaExtension]:
    """The extension factory for ``build_schema`` (strawberry builds one per request)."""
    limits = Limits.from_settings(settings)
    policy = introspection_policy(settings)

    def factory() -> SchemaExtension:
        return QueryLimits(
            max_tokens=settings.max_tokens,
            max_chars=settings.max_document_chars,
            limits=limits,
            introspection_allowed=policy,
        )

    return factory
