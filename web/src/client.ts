// One urql client per signed-in user: queries and mutations over HTTP POST, subscriptions
// over graphql-transport-ws on the same /graphql endpoint. Browsers cannot set headers on a
// WebSocket upgrade, so the token travels in the connection_init payload.
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { persistedExchange } from '@urql/exchange-persisted';
import { persistedId } from './persisted';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { auth } from './auth';

export type LinkStatus = 'connecting' | 'live' | 'reconnecting';

/** The WebSocket's state, and how many times it came back (views refetch then). */
export class Link {
  status: LinkStatus = 'connecting';
  reconnects = 0;
  private everConnected = false;
  private listeners = new Set<() => void>();

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };

  set(status: LinkStatus) {
    if (status === 'live') {
      if (this.everConnected) this.reconnects += 1;
      this.everConnected = true;
    } else if (status === 'connecting' && this.everConnected) {
      status = 'reconnecting';
    }
    if (status === this.status && status !== 'live') return;
    this.status = status;
    for (const l of this.listeners) l();
  }
}

function wsUrl(): string {
  const url = new URL('/graphql', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const online = () =>
  navigator.onLine ? Promise.resolve() : new Promise((r) => window.addEventListener('online', r, { once: true }));

export function createPlatformClient(): { client: Client; link: Link; dispose: () => void } {
  const link = new Link();
  // A silently dead socket shows up as a ping without a pong: drop it and reconnect.
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  const ws: WsClient = createWsClient({
    url: wsUrl(),
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    // 0.5 s, 1 s, 2 s ... capped at 8 s, with jitter; while offline, wait to be online.
    retryWait: async (retries) => {
      await sleep(Math.min(8_000, 500 * 2 ** retries) + Math.random() * 300);
      await online();
    },
    connectionParams: async () => {
      const token = await auth.validToken();
      return token ? { Authorization: `Bearer ${token}` } : {};
    },
    on: {
      connecting: () => link.set('connecting'),
      connected: () => link.set('live'),
      closed: () => {
        clearTimeout(pongTimer);
        link.set('reconnecting');
      },
      ping: (received) => {
        if (!received) pongTimer = setTimeout(() => ws.terminate(), 5_000);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
    },
  });
  // The browser knows first when the network is gone.
  const offline = () => ws.terminate();
  window.addEventListener('offline', offline);

  const client = new Client({
    url: '/graphql',
    preferGetMethod: false,
    requestPolicy: 'network-only',
    exchanges: [
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const token = auth.session?.accessToken;
          return token ? utils.appendHeaders(operation, { Authorization: `Bearer ${token}` }) : operation;
        },
        willAuthError: () => auth.expiresSoon(),
        didAuthError: (error) =>
          error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED'),
        refreshAuth: async () => {
          await auth.renew();
        },
      })),
      // Ids only, over POST (a preflighted request, as the router's CSRF rule wants), for
      // subscriptions too; the text never leaves the browser.
      persistedExchange({
        enforcePersistedQueries: true,
        enableForMutation: true,
        enableForSubscriptions: true,
        preferGetForPersistedQueries: false,
        generateHash: async (_, document) => persistedId(document),
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          // graphql-ws wants a string; the router reads an empty one beside an id as none.
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });

  const dispose = () => {
    window.removeEventListener('offline', offline);
    clearTimeout(pongTimer);
    void ws.dispose();
  };
  return { client, link, dispose };
}
