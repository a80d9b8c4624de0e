"""The graphql-http audit suite (npm, 61 checks of the GraphQL-over-HTTP spec) against the server.

Plain strawberry passes every MUST and fails the eight SHOULDs about
``application/graphql-response+json``; this server is expected to pass all of
them, so any audit not ``ok`` fails the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.node, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("graphql_http_audit.mjs")


def test_graphql_over_http_audit(server):
    node = shutil.which("node")
    assert node, "node is required (scripts/bootstrap.sh dev)"
    assert (REPO / "node_modules" / "graphql-http").is_dir(), (
        "run npm ci (scripts/bootstrap.sh dev)"
    )
    done = subprocess.run(
        [node, str(SCRIPT), server.graphql],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    results = json.loads(done.stdout)
    assert len(results) >= 60
    not_ok = [r for r in results if r["status"] != "ok"]
    assert not_ok == [], json.dumps(not_ok, indent=1)
