"""Who may introspect the schema, and the rule that refuses it to everyone else.

Introspection is how GraphiQL builds its docs and how scanners map an API. It
is on outside production; in production only keys with the ``admin`` scope or
a tier listed in ``key_introspection_tiers`` keep it (``introspection=true``
opens it to all). ``__typename`` is not introspection and is always allowed.
The decision is per request (it depends on the caller), so the rule is added
to the validation rules of each operation by ``app.limits.QueryLimits``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import ASTValidationRule, FieldNode, GraphQLError

from app.settings import Settings

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


class NoIntrospectionRule(ASTValidationRule):
    """Rejects ``__schema`` and ``__type`` (``__typename`` stays allowed)."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    f"Introspection is disabled; '{node.name.value}' cannot be queried.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )


IntrospectionPolicy = Callable[[Any], bool]


def introspection_policy(settings: Settings) -> IntrospectionPolicy:
    """Who may introspect, given the request context.

    ``introspection`` unset means on outside production. When it is off, keys
    with the ``admin`` scope or a tier listed in ``key_introspection_tiers``
    still may (so operators keep GraphiQL's docs in production).
    """
    enabled = settings.introspection
    if enabled is None:
        enabled = not settings.is_production
    if enabled:
        return lambda _ctx: True
    tiers = frozenset(getattr(settings, "key_introspection_tiers", ()))

    def allowed(ctx: Any) -> bool:
        principal = getattr(ctx, "principal", None)
        if principal is None:
            return False
        return "admin" in principal.scopes or principal.tier in tiers

    return allowed
