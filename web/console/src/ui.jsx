// Shared pieces: the API context, a polling query hook, and small widgets.
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { describe } from './api.js';
import { href, navigate } from './router.js';

/** Provides call(query, variables): gql with the session's token. */
export const ApiContext = createContext(null);

export function useApi() {
  return useContext(ApiContext);
}

/**
 * Runs query now, whenever variables change, and every interval ms while the
 * tab is visible. Answers that arrive out of order are dropped, so a slow
 * response for a previous activity never overwrites the current one.
 */
export function useQuery(query, variables = {}, { interval = 0 } = {}) {
  const call = useApi();
  const key = JSON.stringify(variables);
  const [state, setState] = useState({ key, data: null, error: null, at: null });
  const seq = useRef(0);
  const [loading, setLoading] = useState(true);

  const reload = useCallback(async () => {
    const n = ++seq.current;
    setLoading(true);
    try {
      const data = await call(query, JSON.parse(key));
      if (n === seq.current) setState({ key, data, error: null, at: new Date() });
    } catch (error) {
      if (n === seq.current) setState((s) => ({ key, data: s.key === key ? s.data : null, error, at: new Date() }));
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, [call, query, key]);

  useEffect(() => {
    reload();
    if (!interval) return undefined;
    const id = setInterval(() => {
      if (!document.hidden) reload();
    }, interval);
    return () => clearInterval(id);
  }, [reload, interval]);

  // Data of other variables is never shown.
  const fresh = state.key === key;
  return { data: fresh ? state.data : null, error: fresh ? state.error : null, at: fresh ? state.at : null, loading, reload };
}

/** An error sentence with the contract code. */
export function ErrorNote({ error, className = '' }) {
  if (!error) return null;
  return (
    <p className={`note error ${className}`} role="alert">
      {error.code && <code className="code">{error.code}</code>}
      <span>{describe(error)}</span>
    </p>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const shortDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function fmtTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

export function fmtShort(iso) {
  return iso ? shortDate.format(new Date(iso)) : '';
}

export function ago(iso, now = Date.now()) {
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return relative.format(s, 'second');
  if (abs < 45 * 60) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 36 * 3600) return relative.format(Math.round(s / 3600), 'hour');
  return relative.format(Math.round(s / 86400), 'day');
}

/** A timestamp shown relative, with the exact time on hover. */
export function When({ at }) {
  if (!at) return null;
  return (
    <time dateTime={at} title={fmtTime(at)}>
      {ago(at)}
    </time>
  );
}

/** An in-app link: a real href, navigated without a reload. */
export function Link({ to, className, children, ...rest }) {
  const segments = Array.isArray(to) ? to : [to];
  return (
    <a
      href={href(...segments)}
      className={className}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(...segments);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}

/** "updated 3 s ago" with a spinner dot while a refresh runs. */
export function Freshness({ at, loading }) {
  return (
    <span className={`freshness ${loading ? 'busy' : ''}`} aria-live="off">
      <span className="dot" aria-hidden="true" />
      {at ? `updated ${clock.format(at)}` : 'loading…'}
    </span>
  );
}

/** Whether an activity's [startsAt, endsAt) window holds now. */
export function isLive(a, now = Date.now()) {
  return new Date(a.startsAt).getTime() <= now && now < new Date(a.endsAt).getTime();
}
