// A graphql-ws (npm) client for the subscription tests and the load bench.
// Usage: node graphql_ws_client.mjs <ws-url> <events> <json-variables> [apiKey]
// Prints each received result as one JSON line on stdout, then exits 0.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, count, variables, apiKey] = process.argv.slice(2);
const query = `subscription P($ids: [String!]!, $after: String) {
  prices(assetIds: $ids, after: $after) {
    seq ts cursor assetId
    price { value quote sourceCount method outliers sources { source price used } }
    tick { source price }
  }
}`;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: apiKey ? { apiKey } : {},
  retryAttempts: 0,
  lazy: true,
  keepAlive: 10_000,
  on: {
    connected: () => console.error('connected'),
    closed: (e) => console.error('closed', e.code, e.reason),
  },
});

let n = 0;
try {
  for await (const result of client.iterate({ query, variables: JSON.parse(variables) })) {
    console.log(JSON.stringify(result));
    if (++n >= Number(count)) break;
  }
} catch (err) {
  console.log(JSON.stringify({ clientError: String(err && (err.reason || err.message || err)) }));
  process.exitCode = 2;
} finally {
  await client.dispose();
}
