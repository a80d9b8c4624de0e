"""GraphiQL in headless Chromium with the network off: it loads, runs a query, shows docs.

Chromium resolves every host name to nothing except 127.0.0.1, so any CDN
reference would fail to load; on top of that the test records every request
the page makes and requires each one to go to this server (or be a ``data:``
URL), and fails on any console error (which includes CSP violations).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.server.cdp import chromium_path, headless_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESPONSE_TEXT = """(() => {
  const el = document.querySelector('.graphiql-response .CodeMirror');
  const text = el && el.CodeMirror && el.CodeMirror.getValue();
  return text && text.includes('"data"') ? text : null;
})()"""

DOCS_TEXT = """(() => {
  const el = document.querySelector('.graphiql-doc-explorer');
  return el && el.innerText.includes('Query') ? el.innerText : null;
})()"""


async def test_graphiql_runs_a_query_with_the_network_off(server, tmp_path):
    assert chromium_path(), "chromium is required (scripts/bootstrap.sh dev installs it)"
    query = '{ __typename asset(id: "bitcoin") { symbol } }'
    async with headless_page(tmp_path / "profile") as page:
        for domain in ("Network", "Runtime", "Log", "Page"):
            await page.call(f"{domain}.enable")
        await page.call("Page.navigate", url=f"{server.graphql}?q={quote(query)}")

        await page.wait_for("!!document.querySelector('.graphiql-execute-button')", seconds=90)
        editor = await page.wait_for(
            "document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue()"
        )
        assert editor == query
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        result = json.loads(await page.wait_for(RESPONSE_TEXT))
        assert result["data"] == {"__typename": "Query", "asset": None}

        # The docs explorer is built from introspection run by the page.
        await page.evaluate(
            "document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()"
        )
        docs = await page.wait_for(DOCS_TEXT)
        assert "Query" in docs

        requested = [p["request"]["url"] for p in page.event_params("Network.requestWillBeSent")]
        errors = [
            p["entry"]["text"]
            for p in page.event_params("Log.entryAdded")
            if p["entry"]["level"] == "error"
        ]
        exceptions = page.event_params("Runtime.exceptionThrown")
        console_errors = [
            p for p in page.event_params("Runtime.consoleAPICalled") if p["type"] == "error"
        ]

    local = (server.url + "/", server.ws, "data:")
    assert requested, "no request was recorded"
    assert [u for u in requested if not u.startswith(local)] == []
    assert any(u.endswith("/static/graphiql/graphiql.min.js") for u in requested)
    assert errors == []
    assert exceptions == []
    assert console_errors == []
