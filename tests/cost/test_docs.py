"""docs/cost.md: every worked example, the tier table and the settings match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.cost_glue import cost_config
from app.settings import Settings
from cost.service import CostService
from resolvers.errors import ERROR_CODES
from schema.build import build_schema

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cost.md").read_text()
EXAMPLE = re.compile(
    r"<!-- cost-example: (?P<cost>\d+)(?: variables=(?P<vars>\{.*?\}))? -->\s*```graphql\n"
    r"(?P<query>.*?)```",
    re.S,
)


def test_worked_examples_are_what_the_analyser_computes():
    schema = build_schema()._schema
    service = CostService()
    examples = list(EXAMPLE.finditer(DOC))
    assert len(examples) >= 8
    for m in examples:
        variables = json.loads(m["vars"]) if m["vars"] else None
        got = service.estimate(schema, m["query"], variables).cost
        assert got == int(m["cost"]), (
            f"docs/cost.md says {m['cost']}, the analyser {got}:\n{m['query']}"
        )


def test_tier_table_matches_the_default_settings():
    config = cost_config(Settings())
    service = CostService(config)
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+) \| (\d+) \|$", DOC, re.M)
    assert {r[0] for r in rows} == set(config.tiers)
    for name, capacity, rate, maximum in rows:
        tier = config.tiers[name]
        assert (tier.capacity, tier.restore_rate) == (float(capacity), float(rate)), name
        assert service.max_cost(tier) == float(maximum), name


def test_documented_settings_and_codes_exist():
    documented = set(re.findall(r"`CRYPTOQL_(COST_\w+)`", DOC))
    fields = {name.upper() for name in Settings.model_fields if name.startswith("cost_")}
    assert documented == fields
    for code in ("COST_ESTIMATED_TOO_EXPENSIVE", "THROTTLED"):
        assert code in ERROR_CODES and f"`{code}`" in DOC
    assert ERROR_CODES["THROTTLED"][0] == 429
