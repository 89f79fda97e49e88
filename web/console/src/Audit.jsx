// The audit log, newest first, twenty at a time, with exact-match filters.
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTitle } from './router.js';
import { ErrorNote, When, fmtTime, useApi } from './ui.jsx';

const AUDIT = `query Audit($first: Int!, $after: String, $action: String, $target: String, $actor: String) {
  auditLog(first: $first, after: $after, action: $action, target: $target, actor: $actor) {
    edges { cursor node { id actor action target before after reason requestId at } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const PAGE = 20;
const NO_FILTER = { action: '', target: '', actor: '' };

export default function Audit() {
  useTitle('Audit log');
  const call = useApi();
  const [draft, setDraft] = useState(NO_FILTER);
  const [filter, setFilter] = useState(NO_FILTER);
  const [entries, setEntries] = useState([]);
  const [page, setPage] = useState({ hasNextPage: false, endCursor: null });
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const seq = useRef(0);

  const load = useCallback(
    async (after) => {
      const n = ++seq.current;
      setBusy(true);
      setError(null);
      const vars = { first: PAGE, after };
      for (const [k, v] of Object.entries(filter)) if (v.trim()) vars[k] = v.trim();
      try {
        const data = await call(AUDIT, vars);
        if (n !== seq.current) return;
        const nodes = data.auditLog.edges.map((e) => e.node);
        setEntries((old) => (after ? [...old, ...nodes] : nodes));
        setPage(data.auditLog.pageInfo);
        setLoaded(true);
      } catch (err) {
        if (n === seq.current) setError(err);
      } finally {
        if (n === seq.current) setBusy(false);
      }
    },
    [call, filter],
  );

  useEffect(() => {
    load(null);
  }, [load]);

  const filtered = Object.values(filter).some((v) => v.trim());
  return (
    <section className="page">
      <header className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every admin change, newest first.</p>
        </div>
        <button type="button" className="button ghost" onClick={() => load(null)} disabled={busy}>
          Refresh
        </button>
      </header>

      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(draft);
        }}
      >
        {['action', 'target', 'actor'].map((k) => (
          <input
            key={k}
            className="input"
            name={`filter-${k}`}
            placeholder={{ action: 'Action, e.g. setSwitch', target: 'Target, e.g. withdraw', actor: 'Actor act_id' }[k]}
            value={draft[k]}
            onChange={(e) => setDraft({ ...draft, [k]: e.target.value })}
            aria-label={`Filter by ${k}`}
          />
        ))}
        <button type="submit" className="button">
          Filter
        </button>
        {filtered && (
          <button
            type="button"
            className="button ghost"
            onClick={() => {
              setDraft(NO_FILTER);
              setFilter(NO_FILTER);
            }}
          >
            Clear
          </button>
        )}
      </form>

      <ErrorNote error={error} />
      <div className="card table-wrap">
        <table className="table audit" data-audit>
          <thead>
            <tr>
              <th>When</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Target</th>
              <th>Change</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-audit-entry={e.id}>
                <td className="nowrap">
                  <When at={e.at} />
                  <div className="small muted">{fmtTime(e.at)}</div>
                </td>
                <td>
                  <code>{e.actor}</code>
                </td>
                <td>
                  <span className="pill">{e.action}</span>
                </td>
                <td>
                  <code>{e.target}</code>
                </td>
                <td>
                  <Change before={e.before} after={e.after} />
                </td>
                <td className="reason-cell">
                  {e.reason ? <span className="audit-reason">{e.reason}</span> : <span className="muted">–</span>}
                  {e.requestId && <div className="small muted">request {e.requestId}</div>}
                </td>
              </tr>
            ))}
            {loaded && !entries.length && (
              <tr>
                <td colSpan={6} className="empty">
                  {filtered ? 'No entry matches.' : 'Nothing audited yet.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <div className="more">
        {page.hasNextPage ? (
          <button type="button" className="button" onClick={() => load(page.endCursor)} disabled={busy} data-load-more>
            {busy ? 'Loading…' : 'Load more'}
          </button>
        ) : (
          loaded && entries.length > 0 && <span className="muted small">{entries.length} entries: that is all.</span>
        )}
      </div>
    </section>
  );
}

function parse(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

/** The fields that differ between the before and after JSON, as "key: a → b". */
export function Change({ before, after }) {
  const b = parse(before);
  const a = parse(after);
  if (isObject(b) && isObject(a)) {
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
    if (!keys.length) return <span className="muted">no change</span>;
    return (
      <ul className="diff">
        {keys.map((k) => (
          <li key={k}>
            <span className="diff-key">{k}</span> <span className="diff-old">{k in b ? show(b[k]) : '∅'}</span> →{' '}
            <span className="diff-new">{k in a ? show(a[k]) : '∅'}</span>
          </li>
        ))}
      </ul>
    );
  }
  const label = b == null && a != null ? 'created' : a == null && b != null ? 'deleted' : 'changed';
  const detail = a ?? b;
  return (
    <details className="diff">
      <summary>{label}</summary>
      <pre>{typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}</pre>
    </details>
  );
}
