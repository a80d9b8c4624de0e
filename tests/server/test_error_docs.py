"""docs/errors.md lists exactly the codes of the registry, with the registry's statuses."""

from __future__ import annotations

import re
from pathlib import Path

from resolvers.errors import ERROR_CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def test_every_code_is_documented_with_its_status():
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", DOC.read_text(), flags=re.MULTILINE)
    documented = {code: int(status) for code, status in rows}
    registry = {code: status for code, (status, _meaning) in ERROR_CODES.items()}
    missing = sorted(set(registry) - set(documented))
    stale = sorted(set(documented) - set(registry))
    assert not missing, f"add these codes to docs/errors.md: {missing}"
    assert not stale, f"docs/errors.md lists codes the registry does not have: {stale}"
    wrong = {c: (documented[c], registry[c]) for c in registry if documented[c] != registry[c]}
    assert not wrong, f"status in docs vs registry: {wrong}"
