"""Persistence: ORM models, engine/session factory and repositories.

All SQL in the project lives in this package. Nothing here imports another
package of ours.
"""
