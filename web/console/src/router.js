// A minimal History API router: the console's routes are paths under the
// base (/admin/), which the Go handler answers with index.html.
import { useEffect, useSyncExternalStore } from 'react';

const BASE = import.meta.env.BASE_URL; // "/admin/"

function current() {
  const p = window.location.pathname;
  return p.startsWith(BASE) ? decodeURIComponent(p.slice(BASE.length)) : '';
}

function subscribe(cb) {
  window.addEventListener('popstate', cb);
  return () => window.removeEventListener('popstate', cb);
}

/** The route as its path segments under the base: "" -> [], "activities/x" -> ["activities", "x"]. */
export function useRoute() {
  const path = useSyncExternalStore(subscribe, current);
  return path.split('/').filter(Boolean);
}

/** Moves to route (segments joined under the base) without reloading. */
export function navigate(...segments) {
  const url = BASE + segments.filter(Boolean).map(encodeURIComponent).join('/');
  if (url !== window.location.pathname) {
    window.history.pushState(null, '', url);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }
}

/** The href for route segments, for real links (middle click, copy link). */
export function href(...segments) {
  return BASE + segments.filter(Boolean).map(encodeURIComponent).join('/');
}

/** Sets the document title for the current view. */
export function useTitle(title) {
  useEffect(() => {
    document.title = title ? `${title} · Wallet admin` : 'Wallet admin console';
  }, [title]);
}
