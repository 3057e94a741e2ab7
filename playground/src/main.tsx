import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './playground.css';

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { exampleTabs } from './tabs';
import { session, signInPlugin } from './signin';
import { installA11yFixes } from './a11y';

// Same origin as the page: the router serves this playground on GET /graphql.
const endpoint = new URL('/graphql', window.location.href);
const wsEndpoint = new URL(endpoint);
wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

// Subscriptions go over graphql-transport-ws; the request headers (Authorization) become
// the connection_init payload, since browsers cannot set headers on a WebSocket upgrade.
const base = createGraphiQLFetcher({
  url: endpoint.href,
  subscriptionUrl: wsEndpoint.href,
  enableIncrementalDelivery: false,
});

/** Adds the sign-in helper's token to requests whose headers carry no Authorization. */
const fetcher: Fetcher = (params, opts) => {
  const headers: Record<string, unknown> = { ...(opts?.headers ?? {}) };
  const hasAuth = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
  if (!hasAuth && session.token) headers.Authorization = `Bearer ${session.token}`;
  return base(params, { ...opts, headers });
};

const plugins = [signInPlugin, explorerPlugin()];

// Shareable links: /graphql?query=…&variables=… opens that operation in a tab.
const params = new URLSearchParams(window.location.search);
const linkedQuery = params.get('query');
const linkedVariables = params.get('variables');
const tabs = linkedQuery ? [{ query: linkedQuery, variables: linkedVariables }, ...exampleTabs] : exampleTabs;
// GraphiQL seeds the editors from initialQuery/initialVariables; without them it takes the
// first tab's query but not its variables, so give those on a first visit.
const firstVisit = !window.localStorage.getItem('graphiql:tabState');
const initial = {
  initialQuery: linkedQuery ?? undefined,
  initialVariables: linkedVariables ?? (firstVisit ? tabs[0].variables ?? undefined : undefined),
};

installA11yFixes();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      plugins={plugins}
      defaultTabs={tabs}
      defaultEditorToolsVisibility="variables"
      shouldPersistHeaders={false}
      {...initial}
    >
      <GraphiQL.Logo>Platform</GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
