// Real client setups against the router, unchanged from how frontends configure them:
// Apollo Client over graphql-ws and over HTTP multipart, urql over graphql-ws and over
// fetch (SSE), and the graphql-sse reference client (distinct connections mode). Each subscribes to `taskChanged`; then a task is created and every client
// must receive it with the actor's name completed from accounts.
//
// Input (environment): ROUTER_URL (http://…/graphql), SUBSCRIBER_TOKEN, ACTOR_TOKEN,
// ACTOR_NAME (the name the actor must carry, completed from accounts), BOARD_ID.
// Output: one line per client; exit status 0 only when every client got the event.

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient as createSseClient } from "graphql-sse";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { ROUTER_URL, SUBSCRIBER_TOKEN, ACTOR_TOKEN, ACTOR_NAME, BOARD_ID } = process.env;
if (!ROUTER_URL || !SUBSCRIBER_TOKEN || !ACTOR_TOKEN || !ACTOR_NAME || !BOARD_ID) {
  console.error("ROUTER_URL, SUBSCRIBER_TOKEN, ACTOR_TOKEN, ACTOR_NAME and BOARD_ID are required");
  process.exit(2);
}
const WS_URL = ROUTER_URL.replace(/^http/, "ws");
const AUTH = `Bearer ${SUBSCRIBER_TOKEN}`;
const TITLE = "Compat check";

const SUBSCRIPTION = `subscription Changes($b: ID!) {
  taskChanged(boardId: $b) { kind task { id title } actor { id name } }
}`;

/** Resolves with the first taskChanged payload carrying TITLE, or rejects on error. The
 * subscriptions stay open until the process exits (urql's fetch transport reports an
 * unsubscribe as an unhandled AbortError). */
function waitForTask(name, subscribe) {
  return new Promise((resolve, reject) => {
    subscribe({
      next(result) {
        if (result.error || result.errors) {
          reject(new Error(`${name}: ${JSON.stringify(result.error ?? result.errors)}`));
          return;
        }
        const event = result.data?.taskChanged;
        if (event?.task?.title === TITLE) {
          resolve({ name, event });
        }
      },
      error(error) {
        reject(new Error(`${name}: ${error?.message ?? JSON.stringify(error)}`));
      },
    });
  });
}

function graphqlWs() {
  return createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: AUTH },
    lazy: false,
  });
}

// Apollo Client, WebSocket link (graphql-ws).
const apolloWs = new ApolloClient({
  link: new GraphQLWsLink(graphqlWs()),
  cache: new InMemoryCache(),
});
// Apollo Client, plain HttpLink: subscriptions go over multipart HTTP.
const apolloHttp = new ApolloClient({
  link: new HttpLink({ uri: ROUTER_URL, headers: { authorization: AUTH } }),
  cache: new InMemoryCache(),
});
// urql with graphql-ws.
const urqlWsClient = graphqlWs();
const urqlWs = new Client({
  url: ROUTER_URL,
  exchanges: [
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || "" };
        return {
          subscribe(sink) {
            return { unsubscribe: urqlWsClient.subscribe(input, sink) };
          },
        };
      },
    }),
  ],
});
// urql over fetch: subscriptions as Server-Sent Events.
const urqlFetch = new Client({
  url: ROUTER_URL,
  fetchSubscriptions: true,
  exchanges: [fetchExchange],
  fetchOptions: { headers: { authorization: AUTH } },
});

// The GraphQL over SSE reference client, distinct connections mode.
const sse = createSseClient({
  url: ROUTER_URL,
  singleConnection: false,
  headers: { authorization: AUTH },
});

const variables = { b: BOARD_ID };
const apollo = (client) => (observer) =>
  client.subscribe({ query: gql(SUBSCRIPTION), variables }).subscribe(observer);
const urql = (client) => (observer) =>
  client.subscription(SUBSCRIPTION, variables).subscribe((result) => {
    observer.next(result.error ? { error: result.error } : result);
  });

const waiting = [
  waitForTask("apollo-client graphql-ws", apollo(apolloWs)),
  waitForTask("apollo-client multipart", apollo(apolloHttp)),
  waitForTask("urql graphql-ws", urql(urqlWs)),
  waitForTask("urql fetch (sse)", urql(urqlFetch)),
  waitForTask("graphql-sse", (observer) =>
    sse.subscribe({ query: SUBSCRIPTION, variables }, {
      next: (result) => observer.next(result),
      error: (error) => observer.error(error),
      complete: () => {},
    }),
  ),
];

// A plain query through Apollo Client's default Accept negotiation.
const me = await apolloHttp.query({ query: gql`{ me { id name } }` });
if (!me.data?.me?.name) {
  console.error(`apollo-client query: ${JSON.stringify(me)}`);
  process.exit(1);
}

// Subscriptions are not acknowledged by the protocols: give them time to reach the subgraph.
await new Promise((r) => setTimeout(r, 1500));
const created = await fetch(ROUTER_URL, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${ACTOR_TOKEN}` },
  body: JSON.stringify({
    query: "mutation($b: ID!, $t: String!) { createTask(input: {boardId: $b, title: $t}) { id } }",
    variables: { b: BOARD_ID, t: TITLE },
  }),
}).then((r) => r.json());
if (created.errors) {
  console.error(`createTask: ${JSON.stringify(created.errors)}`);
  process.exit(1);
}

const timeout = new Promise((_, reject) =>
  setTimeout(() => reject(new Error("timed out waiting for the event")), 15000),
);
let failed = false;
const outcomes = await Promise.allSettled(waiting.map((w) => Promise.race([w, timeout])));
for (const outcome of outcomes) {
  if (outcome.status === "fulfilled") {
    const { name, event } = outcome.value;
    const ok = event.kind === "CREATED" && event.actor?.name === ACTOR_NAME;
    failed ||= !ok;
    console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${JSON.stringify(event)}`);
  } else {
    failed = true;
    console.log(`FAIL ${outcome.reason.message}`);
  }
}
process.exit(failed ? 1 : 0);
