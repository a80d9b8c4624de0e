"""Strawberry types per domain and the assembled schema."""
