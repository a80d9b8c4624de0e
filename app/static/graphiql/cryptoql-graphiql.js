// Boots GraphiQL for cryptoql from files served by the package itself: no CDN,
// no inline script (so the page can run under a strict Content-Security-Policy).
// The page passes its settings in data-* attributes of #graphiql.
(function () {
  "use strict";

  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.getAttribute("data-endpoint") || "/graphql", window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // ?q=…&variables=… prefill the editors (shareable links, tests). Not `query`: a
  // GET with `query` executes it (GraphQL over HTTP). Never headers: they carry keys.
  var params = new URLSearchParams(window.location.search);

  var DEFAULT_QUERY = [
    "# cryptoql: one GraphQL endpoint for crypto prices, signals and on-chain data.",
    "#",
    "# Run a query with Ctrl-Enter (or the play button). The Docs button on the left",
    "# lists every type and field. Subscriptions run over WebSocket on this endpoint.",
    "#",
    "# To use an API key, open the Headers tab below and enter",
    '#   {"X-API-Key": "cak_live_…"}',
    "",
    "{",
    "  __typename",
    "}",
    "",
  ].join("\n");

  var fetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });

  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  var props = {
    fetcher: fetcher,
    plugins: [explorer],
    defaultQuery: DEFAULT_QUERY,
    isHeadersEditorEnabled: true,
    // Headers often carry an API key: keep them out of localStorage.
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: true,
    inputValueDeprecation: true,
  };
  if (params.has("q")) props.query = params.get("q");
  if (params.has("variables")) props.variables = params.get("variables");

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
