"""Schedulers and stream pumps: sources -> storage (idempotent upserts) -> pubsub."""
