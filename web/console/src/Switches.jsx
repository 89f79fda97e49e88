// The switchboard: every switch with its state, and a confirmed, reasoned
// toggle. The toggle always shows the server's state; a change shows only
// once setSwitch has answered.
import { useEffect, useRef, useState } from 'react';
import { useTitle } from './router.js';
import { ErrorNote, Freshness, When, useApi, useQuery } from './ui.jsx';
import { count } from './money.js';

const SWITCHES = `query Switches {
  switches { name enabled description category default updatedAt updatedBy reason }
  configVersion
}`;

const SET_SWITCH = `mutation SetSwitch($name: String!, $enabled: Boolean!, $reason: String!) {
  setSwitch(name: $name, enabled: $enabled, reason: $reason) {
    name enabled description category default updatedAt updatedBy reason
  }
}`;

const CATEGORIES = [
  { id: 'kill', title: 'Kill switches', blurb: 'Cut a feature or dependency off; the core flow keeps working.' },
  { id: 'operational', title: 'Operational', blurb: 'Pause or tune background work.' },
];

export default function Switches({ role }) {
  useTitle('Switches');
  const q = useQuery(SWITCHES, {}, { interval: 5000 });
  const [filter, setFilter] = useState('');
  const [changedOnly, setChangedOnly] = useState(false);
  // The one switch whose confirmation is open.
  const [open, setOpen] = useState('');
  // The answers of setSwitch, shown until a poll brings something newer (with
  // several instances, the one polled may be a moment behind).
  const [latest, setLatest] = useState({});

  const all = (q.data?.switches ?? []).map((s) => {
    const mine = latest[s.name];
    return mine && (!s.updatedAt || Date.parse(mine.updatedAt) > Date.parse(s.updatedAt)) ? mine : s;
  });
  const off = all.filter((s) => !s.enabled).length;
  const changed = all.filter((s) => s.enabled !== s.default).length;
  const needle = filter.trim().toLowerCase();
  const shown = all.filter(
    (s) =>
      (!changedOnly || s.enabled !== s.default) &&
      (!needle || s.name.toLowerCase().includes(needle) || s.description.toLowerCase().includes(needle)),
  );
  const groups = [
    ...CATEGORIES,
    // A category the console does not know yet still shows.
    ...[...new Set(all.map((s) => s.category))].filter((c) => !CATEGORIES.some((k) => k.id === c)).map((c) => ({ id: c, title: c, blurb: '' })),
  ];

  return (
    <section className="page">
      <header className="page-head">
        <div>
          <h1>Switches</h1>
          <p className="muted">
            {q.data ? (
              <>
                {all.length} switches · <b className={off ? 'text-warn' : ''}>{off} off</b> · {changed} not at default · config version{' '}
                <b data-config-version>{count(q.data.configVersion)}</b>
              </>
            ) : (
              'Degradation switches; every instance follows a change within a second.'
            )}
          </p>
        </div>
        <Freshness at={q.at} loading={q.loading} />
      </header>

      {off > 0 && (
        <div className="off-now" data-off-now>
          <span className="muted">Off now:</span>
          {all
            .filter((s) => !s.enabled)
            .map((s) => (
              <button key={s.name} type="button" className="chip-button" onClick={() => setFilter(s.name)} title="Show only this switch">
                {s.name}
              </button>
            ))}
        </div>
      )}

      {role === 'viewer' && (
        <p className="note info">You are signed in as a viewer: you can look, but the server refuses changes.</p>
      )}

      <div className="toolbar">
        <input
          type="search"
          className="input"
          placeholder="Filter by name or description"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          aria-label="Filter switches"
        />
        <label className="check">
          <input type="checkbox" checked={changedOnly} onChange={(e) => setChangedOnly(e.target.checked)} />
          Only those not at their default
        </label>
      </div>

      <ErrorNote error={q.error} />

      {groups.map((g) => {
        const items = shown.filter((s) => s.category === g.id);
        if (!items.length) return null;
        return (
          <div key={g.id} className="group">
            <h2>
              {g.title} <span className="muted">{g.blurb}</span>
            </h2>
            <div className="card list">
              {items.map((s) => (
                <SwitchRow
                  key={s.name}
                  sw={s}
                  open={open === s.name}
                  onOpen={() => setOpen(open === s.name ? '' : s.name)}
                  onClose={() => setOpen('')}
                  onSaved={(saved) => {
                    setLatest((m) => ({ ...m, [saved.name]: saved }));
                    setOpen('');
                    q.reload();
                  }}
                  onFailed={() => q.reload()}
                />
              ))}
            </div>
          </div>
        );
      })}
      {q.data && !shown.length && <p className="empty">No switch matches.</p>}
    </section>
  );
}

function SwitchRow({ sw, open, onOpen, onClose, onSaved, onFailed }) {
  const call = useApi();
  const [reason, setReason] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const target = !sw.enabled;
  const reasonRef = useRef(null);

  useEffect(() => {
    if (open) {
      setReason('');
      setError(null);
      reasonRef.current?.focus();
    }
  }, [open]);

  async function confirm(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const data = await call(SET_SWITCH, { name: sw.name, enabled: target, reason: reason.trim() });
      onSaved(data.setSwitch);
    } catch (err) {
      setError(err);
      onFailed();
    } finally {
      setBusy(false);
    }
  }

  const atDefault = sw.enabled === sw.default;
  return (
    <article
      className={`switch ${sw.enabled ? 'is-on' : 'is-off'} ${atDefault ? '' : 'not-default'} ${open ? 'is-open' : ''}`}
      data-switch={sw.name}
      data-enabled={String(sw.enabled)}
    >
      <div className="switch-main">
        <div className="switch-text">
          <div className="switch-title">
            <code className="switch-name">{sw.name}</code>
            {!atDefault && <span className="pill warn">default {sw.default ? 'on' : 'off'}</span>}
          </div>
          <p className="switch-desc">{sw.description}</p>
          {sw.updatedAt && (
            <p className="switch-meta">
              Turned {sw.enabled ? 'on' : 'off'} by <b>{sw.updatedBy}</b> · <When at={sw.updatedAt} />
              {sw.reason && <q className="reason">{sw.reason}</q>}
            </p>
          )}
        </div>
        <div className="switch-control">
          <span className={`state ${sw.enabled ? 'on' : 'off'}`}>{sw.enabled ? 'On' : 'Off'}</span>
          <button
            type="button"
            role="switch"
            className="toggle"
            aria-checked={sw.enabled}
            aria-expanded={open}
            aria-label={`${sw.name}: ${sw.enabled ? 'on, turn off' : 'off, turn on'}`}
            onClick={onOpen}
          >
            <span className="knob" />
          </button>
        </div>
      </div>
      {open && (
        <form
          className="confirm"
          onSubmit={confirm}
          onKeyDown={(e) => {
            if (e.key === 'Escape') onClose();
          }}
        >
          <p className="confirm-title">
            Turn <code>{sw.name}</code> <b className={target ? 'text-ok' : 'text-warn'}>{target ? 'on' : 'off'}</b>?
            <span className="muted"> The change reaches every instance within a second and is written to the audit log.</span>
          </p>
          <div className="confirm-row">
            <input
              ref={reasonRef}
              name="reason"
              className="input"
              type="text"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder="Reason, e.g. incident number"
              autoComplete="off"
              maxLength={500}
              aria-label="Reason"
            />
            <button type="button" className="button ghost" onClick={onClose} disabled={busy}>
              Cancel
            </button>
            <button type="submit" data-confirm className={`button ${target ? 'primary' : 'danger'}`} disabled={busy}>
              {busy ? 'Saving…' : target ? 'Turn on' : 'Turn off'}
            </button>
          </div>
          <ErrorNote error={error} />
        </form>
      )}
    </article>
  );
}
