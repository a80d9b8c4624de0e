"""Thin resolver functions ``(ctx, *, args) -> records``, testable without GraphQL."""
