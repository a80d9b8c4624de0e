"""Query cost: schema-declared weights, static analysis, budgets, the extension."""
