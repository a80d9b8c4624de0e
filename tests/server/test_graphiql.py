"""GraphiQL is served from the package: no CDN URL, pinned files, switchable."""

from __future__ import annotations

import base64
import hashlib
import re

from app.graphiql import BOOT_SCRIPT, STATIC_DIR, VENDORED
from app.main import create_app
from app.settings import Settings
from app.view import graphiql_enabled
from tests.conftest import make_settings, running_app

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def sri(data: bytes) -> str:
    return base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_vendored_files_are_the_pinned_npm_builds():
    for name, digest in VENDORED.items():
        assert sri((STATIC_DIR / name).read_bytes()) == digest, name


async def test_page_loads_only_from_this_server(http):
    resp = await http.get("/graphql", headers=HTML)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    urls = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"', page)
    assert len(urls) == len(VENDORED) + 2  # + boot script + icon
    assert not [u for u in urls if re.match(r"(?i)(https?:)?//", u)]
    assert not re.search(r"(?i)https?://", page)
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "<script>" not in page  # no inline script: the CSP forbids it

    # Every referenced file is served, with the integrity the page declares.
    for url in urls:
        if url.startswith("data:"):
            continue
        asset = await http.get(url)
        assert asset.status_code == 200, url
        name = url.rsplit("/", 1)[-1]
        if name in VENDORED:
            assert f'integrity="sha384-{sri(asset.content)}"' in page


async def test_boot_script_wires_subscriptions_and_headers():
    script = (STATIC_DIR / BOOT_SCRIPT).read_text()
    assert "subscriptionUrl" in script
    assert "isHeadersEditorEnabled: true" in script
    assert "X-API-Key" in script


async def test_graphql_gets_without_html_accept_do_not_render_the_ide(http):
    resp = await http.get("/graphql", headers={"accept": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_graphiql_can_be_turned_off(server_db):
    async with running_app(create_app(make_settings(server_db, graphiql=False))) as client:
        resp = await client.get("/graphql", headers=HTML)
        assert resp.status_code == 404
        assert resp.json()["errors"][0]["extensions"]["code"] == "ROUTE_NOT_FOUND"
        assert (await client.get("/static/graphiql/graphiql.min.js")).status_code == 404
        # the API itself still answers GET queries
        ok = await client.get("/graphql", params={"query": "{ __typename }"})
        assert ok.json()["data"] == {"__typename": "Query"}


def test_graphiql_default_is_off_in_production_only():
    assert graphiql_enabled(Settings(env="development"))
    assert graphiql_enabled(Settings(env="test"))
    assert not graphiql_enabled(Settings(env="production"))
    assert graphiql_enabled(Settings(env="production", graphiql=True))
