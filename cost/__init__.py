"""Query cost: schema-declared weights, static analysis, budgets, the extension.

* :mod:`cost.directives`: ``@cost``/``@listSize`` as strawberry schema directives;
* :mod:`cost.model`: the declarations read back from a schema into lookup tables;
* :mod:`cost.plan`: a document's compiled, cached "shape";
* :mod:`cost.analysis`: the static estimate (and per-field breakdown);
* :mod:`cost.actual`: the cost of the data really returned;
* :mod:`cost.budget`, :mod:`cost.redis_budget`: leaky buckets, in process or in Redis;
* :mod:`cost.service`: configuration and the API other layers call;
* :mod:`cost.extension`: the strawberry extension that limits and charges operations;
* :mod:`cost.errors`: ``COST_ESTIMATED_TOO_EXPENSIVE`` and ``THROTTLED``.

This package knows nothing of the app, the schema modules or storage (an
import-linter contract): it works on graphql-core schemas and documents, and
the app binds it to requests (``schema.ratelimit``, ``app.cost_glue``).
See ``docs/cost.md``.
"""
