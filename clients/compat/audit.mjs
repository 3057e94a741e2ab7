// The GraphQL-over-HTTP server audit (graphql-http's `auditServer`, the reference
// implementation of the spec) against the router with its edge on: once as clients that
// send a preflight-forcing header (`apollo-require-preflight`) run it, once as a plain
// client. Prints one JSON object: every audit's id, name, status and reason, per run.
import { auditServer } from 'graphql-http';

const url = process.env.ROUTER_URL;
if (!url) throw new Error('ROUTER_URL is not set');

const preflighted = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('apollo-require-preflight', 'true');
  return fetch(input, { ...init, headers });
};

const summary = (results) =>
  results.map(({ id, name, status, reason }) => ({ id, name, status, reason }));

const out = {
  preflighted: summary(await auditServer({ url, fetchFn: preflighted })),
  plain: summary(await auditServer({ url })),
};
console.log(JSON.stringify(out));
