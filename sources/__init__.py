"""Upstream providers: one module per provider, typed records out, typed errors."""
