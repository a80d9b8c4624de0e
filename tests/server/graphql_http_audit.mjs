// Runs the graphql-http server audits (GraphQL over HTTP spec) against a URL and
// prints one JSON array: [{id, name, status, reason}] (status: ok | notice | warn | error).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const results = await auditServer({ url, fetchFn: fetch });
console.log(
  JSON.stringify(
    results.map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason ?? null })),
  ),
);
