"""GraphiQL served entirely from the package, so it works with the network off.

The page loads GraphiQL 3.8.3, React 18.2.0 and the explorer plugin 1.0.2 from
``app/static/graphiql`` (the UMD builds from ``npm pack``, byte-identical to
what strawberry's own template loads from unpkg; the sha384 digests below are
the same ones strawberry pins). Our boot script is a static file too, so the
page needs no inline script and is served under a Content-Security-Policy that
only allows this origin: a regression that adds a CDN URL fails loudly in the
browser instead of silently depending on the network.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
STATIC_PATH = "/static/graphiql"

#: Vendored file -> its sha384 SRI digest (checked by a test against the files).
VENDORED: dict[str, str] = {
    "react.production.min.js": "tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    "react-dom.production.min.js": (
        "bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"
    ),
    "graphiql.min.css": "Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    "plugin-explorer.css": "5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi",
    "graphiql.min.js": "HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    "plugin-explorer.umd.js": "2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9",
}
BOOT_SCRIPT = "cryptoql-graphiql.js"

#: Only this origin; WebSockets to the same host are covered by 'self'.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cryptoql GraphiQL</title>
<link rel="icon" href="data:,">
{styles}
<style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql" data-endpoint="{endpoint}">Loading GraphiQL…</div>
{scripts}
</body>
</html>
"""


def _asset_url(name: str) -> str:
    return f"{STATIC_PATH}/{name}"


@lru_cache(maxsize=8)
def graphiql_html(endpoint: str = "/graphql") -> str:
    """The page; every URL in it is a path on this server."""
    styles = "\n".join(
        f'<link rel="stylesheet" href="{_asset_url(n)}" integrity="sha384-{d}">'
        for n, d in VENDORED.items()
        if n.endswith(".css")
    )
    scripts = [
        f'<script src="{_asset_url(n)}" integrity="sha384-{d}"></script>'
        for n, d in VENDORED.items()
        if n.endswith(".js")
    ]
    scripts.append(f'<script src="{_asset_url(BOOT_SCRIPT)}"></script>')
    return _PAGE.format(
        styles=styles, scripts="\n".join(scripts), endpoint=html.escape(endpoint, quote=True)
    )


def graphiql_response(endpoint: str = "/graphql") -> HTMLResponse:
    return HTMLResponse(
        graphiql_html(endpoint),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
        },
    )


def static_mount() -> Mount:
    """The vendored files; StaticFiles answers conditional requests with ETags."""
    return Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIR), name="graphiql-static")
