"""Compiled execution: operations planned once, run without per-field bookkeeping.

See :mod:`schema.compiled.plan` (what a plan is and what falls back),
:mod:`schema.compiled.run` (how a plan runs) and
:mod:`schema.compiled.executor` (how it plugs into strawberry).
"""
