// Works out which GraphQL endpoint the page should talk to.
//
// The Go handler injects <meta name="wallet-graphql-endpoint" content="...">;
// that is authoritative. Without it (e.g. `vite preview`), the endpoint is
// derived from the page's own URL: the last "playground" segment of the
// directory is replaced by "query", so
//   /playground/             -> /query
//   /admin/playground/       -> /admin/query
//   /admin/playground/index.html -> /admin/query
export function endpointFromPage(doc, location) {
  const meta = doc.querySelector('meta[name="wallet-graphql-endpoint"]');
  const injected = meta && meta.getAttribute('content');
  if (injected) return injected;

  // Directory of the page, always ending in "/".
  const dir = location.pathname.replace(/[^/]*$/, '');
  const parent = dir.replace(/[^/]+\/$/, '');
  return `${parent || '/'}query`;
}
