// The reference side of tests/differential.rs, for one fixture directory:
//   node harness.mjs <case>
// starts each subgraph `<name>.graphql` of `../fixtures/apollo-compose/<case>/` (built with @apollo/subgraph, answered by
// values.mjs), composes them with Apollo's composition, starts Apollo Gateway (which plans with
// @apollo/query-planner) on that supergraph, then prints one JSON line
//   {"gateway": "<url>", "supergraph": "<sdl>", "subgraphs": {"<name>": "<url>"}}
// and serves until its stdin closes.
import { composeServices } from '@apollo/composition';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { graphql, parse } from 'graphql';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { resolversFor } from './values.mjs';

// The case's subgraphs are the Apollo-equivalence fixture of the same name (one copy of
// each SDL for both suites).
const here = path.dirname(new URL(import.meta.url).pathname);
const dir = path.join(here, '../fixtures/apollo-compose', path.basename(process.argv[2]));
const subgraphs = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.graphql') && f !== 'apollo.graphql')
  .sort()
  .map((f) => ({ name: f.replace(/\.graphql$/, ''), typeDefs: parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

// Ports first: the supergraph names every subgraph's URL.
const servers = [];
for (const subgraph of subgraphs) {
  const server = await listen(async (request, response) => {
    let result;
    try {
      const body = JSON.parse(await readBody(request));
      if (process.env.DIFFERENTIAL_LOG) console.error(`${subgraph.name} <- ${JSON.stringify(body)}`);
      result = await graphql({
        schema: subgraph.schema,
        source: body.query,
        variableValues: body.variables,
        operationName: body.operationName,
      });
    } catch (error) {
      result = { errors: [{ message: String(error) }] };
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(result));
  });
  subgraph.url = `http://127.0.0.1:${server.address().port}/graphql`;
  servers.push(server);
}

const composed = composeServices(subgraphs.map(({ name, url, typeDefs }) => ({ name, url, typeDefs })));
if (composed.errors) {
  console.error(`composition failed:\n${composed.errors.map((e) => e.message).join('\n')}`);
  process.exit(1);
}
const supergraph = composed.supergraphSdl;
for (const subgraph of subgraphs) {
  const bare = buildSubgraphSchema({ typeDefs: subgraph.typeDefs });
  subgraph.schema = buildSubgraphSchema({
    typeDefs: subgraph.typeDefs,
    resolvers: resolversFor(subgraph.name, bare, subgraph.typeDefs, supergraph),
  });
}

// Apollo Gateway refuses SECURITY features (only Apollo Router enforces them); the router
// under test runs without `[jwt]` here, so neither enforces them and the answers compare.
const forGateway = supergraph.replace(
  /(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes|policy)\/v[0-9.]+"), for: SECURITY\)/g,
  '$1)',
);
const gateway = new ApolloGateway({ supergraphSdl: forGateway });
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
const urls = Object.fromEntries(subgraphs.map((s) => [s.name, s.url]));
process.stdout.write(`${JSON.stringify({ gateway: url, supergraph, subgraphs: urls })}\n`);

process.stdin.resume();
process.stdin.on('end', async () => {
  await server.stop();
  for (const s of servers) s.close();
  process.exit(0);
});
