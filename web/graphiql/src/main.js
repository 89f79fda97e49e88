// Entry point of the wallet GraphiQL playground.
//
// Everything (scripts, styles, fonts, Monaco web workers) is bundled by Vite
// and served by the Go process, so the page works without internet access.
// No JSX on purpose: it keeps the build free of a React/Babel plugin.

// Must come first: tells Monaco how to start its web workers from the bundle
// instead of fetching them from a CDN.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';

import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, createLocalStorage } from '@graphiql/toolkit';

import { endpointFromPage } from './endpoint.js';

const endpoint = endpointFromPage(document, window.location);
const title = document.title || 'Wallet GraphQL playground';

// Shown in the headers editor of every new tab; the Go server expects a
// bearer token minted by its own CLI.
const defaultHeaders = JSON.stringify(
  {
    Authorization:
      'Bearer <token from: go run . token --act 1001 --app 1 --roles user>',
  },
  null,
  2,
);

// Kept under ~55 columns so it is readable in the default editor width.
const defaultQuery = `# ${title}
# Requests go to ${endpoint}
#
# 1. Put your token in the Headers tab below.
# 2. If the schema loaded empty, re-fetch it
#    (circular arrows, bottom left).
# 3. Run with Ctrl+Enter or the play button.
# The book icon (top left) opens the schema docs.

query {
  __typename
}
`;

const fetcher = createGraphiQLFetcher({ url: endpoint });

// One localStorage namespace per endpoint so the user and admin playgrounds,
// which share an origin, do not mix their tabs and history.
const storage = createLocalStorage({ namespace: `wallet-graphiql:${endpoint}` });

createRoot(document.getElementById('root')).render(
  h(
    GraphiQL,
    {
      fetcher,
      storage,
      defaultQuery,
      defaultHeaders,
      isHeadersEditorEnabled: true,
      // Open the tools pane on the headers tab: the first thing a user needs
      // is to paste a token.
      defaultEditorToolsVisibility: 'headers',
      // Tokens are secrets: never write them to localStorage.
      shouldPersistHeaders: false,
    },
    h(GraphiQL.Logo, null, title),
  ),
);
