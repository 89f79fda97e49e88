// Announcements of one activity: the list (live, scheduled, ended), a form
// to create one, and deletion with a reason.
import { useEffect, useRef, useState } from 'react';
import { navigate, useTitle } from './router.js';
import { ACTIVITIES, tree } from './Activities.jsx';
import { ErrorNote, Freshness, fmtShort, fmtTime, useApi, useQuery } from './ui.jsx';

const LIST = `query Announcements($id: ID) {
  announcements(activityId: $id) { id activityId appIds title body startsAt endsAt priority }
}`;

const CREATE = `mutation CreateAnnouncement($input: AnnouncementInput!) {
  createAnnouncement(input: $input) { id }
}`;

const DELETE = `mutation DeleteAnnouncement($id: ID!, $reason: String!) {
  deleteAnnouncement(id: $id, reason: $reason)
}`;

const APPS = [1, 2, 3, 4, 5, 6, 7, 8];

export default function Announcements({ route, role }) {
  useTitle('Announcements');
  const acts = useQuery(ACTIVITIES);
  const rows = tree(acts.data?.activities ?? []);
  const activityId = route[0] ?? rows[0]?.a.id ?? '';
  const list = useQuery(LIST, { id: activityId }, { interval: 10000 });
  const items = activityId ? (list.data?.announcements ?? []) : [];

  return (
    <section className="page">
      <header className="page-head">
        <div>
          <h1>Announcements</h1>
          <p className="muted">Notices on the wallet page of the chosen apps during their window; apps see a new one within 5 s.</p>
        </div>
        <label className="field inline">
          <span>Activity</span>
          <select className="input" value={activityId} onChange={(e) => navigate('announcements', e.target.value)} name="activity">
            {rows.map(({ a, depth }) => (
              <option key={a.id} value={a.id}>
                {'\u2003'.repeat(depth)}
                {a.name} ({a.id})
              </option>
            ))}
          </select>
        </label>
      </header>
      <ErrorNote error={acts.error} />
      {role === 'viewer' && <p className="note info">You are signed in as a viewer: the server refuses changes.</p>}

      <div className="split wide-right">
        <div>
          <div className="section-head">
            <h3>
              {items.length} announcement{items.length === 1 ? '' : 's'}
            </h3>
            <Freshness at={list.at} loading={list.loading} />
          </div>
          <ErrorNote error={list.error} />
          <div className="stack">
            {items.map((a) => (
              <AnnouncementCard key={a.id} a={a} onDeleted={list.reload} />
            ))}
            {list.data && !items.length && <p className="card empty">No announcement for this activity.</p>}
          </div>
        </div>
        {activityId && <CreateForm activityId={activityId} onCreated={list.reload} />}
      </div>
    </section>
  );
}

function status(a, now = Date.now()) {
  if (now < Date.parse(a.startsAt)) return ['scheduled', 'pill'];
  if (now >= Date.parse(a.endsAt)) return ['ended', 'pill muted'];
  return ['live', 'pill ok'];
}

function AnnouncementCard({ a, onDeleted }) {
  const call = useApi();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [label, cls] = status(a);

  async function remove(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await call(DELETE, { id: a.id, reason: reason.trim() });
      onDeleted();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <article className="card announcement" data-announcement={a.id}>
      <div className="announcement-head">
        <h4>{a.title}</h4>
        <span className={cls}>{label}</span>
        {a.priority !== 0 && <span className="pill">priority {a.priority}</span>}
        <button type="button" className="button ghost small push" onClick={() => setOpen(!open)} aria-expanded={open}>
          Delete…
        </button>
      </div>
      {a.body && <p className="announcement-body">{a.body}</p>}
      <p className="small muted">
        {a.appIds.length ? `Apps ${a.appIds.join(', ')}` : 'Every app'} ·{' '}
        <span title={`${fmtTime(a.startsAt)} – ${fmtTime(a.endsAt)}`}>
          {fmtShort(a.startsAt)} – {fmtShort(a.endsAt)}
        </span>{' '}
        · <code>{a.id}</code>
      </p>
      {open && (
        <form className="confirm" onSubmit={remove} onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}>
          <div className="confirm-row">
            <input
              name="reason"
              className="input"
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder="Reason for deleting"
              autoComplete="off"
              autoFocus
              aria-label="Reason"
            />
            <button type="button" className="button ghost" onClick={() => setOpen(false)} disabled={busy}>
              Cancel
            </button>
            <button type="submit" data-confirm className="button danger" disabled={busy}>
              {busy ? 'Deleting…' : 'Delete'}
            </button>
          </div>
          <ErrorNote error={error} />
        </form>
      )}
    </article>
  );
}

/** The value of a datetime-local input for t (local time, minutes). */
function localInput(t) {
  const d = new Date(t);
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function CreateForm({ activityId, onCreated }) {
  const call = useApi();
  const blank = () => ({
    title: '',
    body: '',
    apps: [],
    startsAt: localInput(Date.now()),
    endsAt: localInput(Date.now() + 7 * 86400000),
    priority: '0',
  });
  const [f, setF] = useState(blank);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState('');
  const titleRef = useRef(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });

  useEffect(() => setDone(''), [activityId]);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setDone('');
    try {
      const input = {
        activityId,
        appIds: f.apps,
        title: f.title.trim(),
        body: f.body.trim(),
        startsAt: new Date(f.startsAt).toISOString(),
        endsAt: new Date(f.endsAt).toISOString(),
        priority: Number.parseInt(f.priority, 10) || 0,
      };
      if (Number.isNaN(Date.parse(input.startsAt)) || Number.isNaN(Date.parse(input.endsAt))) throw new Error('Set both the start and the end.');
      const data = await call(CREATE, { input });
      setDone(`Published ${data.createAnnouncement.id}.`);
      setF(blank());
      titleRef.current?.focus();
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  function toggleApp(app) {
    setF({ ...f, apps: f.apps.includes(app) ? f.apps.filter((x) => x !== app) : [...f.apps, app].sort((x, y) => x - y) });
  }

  return (
    <form className="card form" onSubmit={submit} data-create-announcement>
      <h3>New announcement</h3>
      <label className="field">
        <span>Title</span>
        <input ref={titleRef} name="title" className="input" value={f.title} onChange={set('title')} maxLength={100} autoComplete="off" />
      </label>
      <label className="field">
        <span>Body</span>
        <textarea name="body" className="input" rows={3} value={f.body} onChange={set('body')} maxLength={2000} />
      </label>
      <fieldset className="field">
        <legend>Apps {f.apps.length === 0 && <span className="muted">(none chosen: every app)</span>}</legend>
        <div className="app-picks">
          {APPS.map((app) => (
            <label key={app} className={`app-pick ${f.apps.includes(app) ? 'on' : ''}`}>
              <input type="checkbox" checked={f.apps.includes(app)} onChange={() => toggleApp(app)} />
              {app}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="field-row">
        <label className="field">
          <span>Starts</span>
          <input type="datetime-local" name="startsAt" className="input" value={f.startsAt} onChange={set('startsAt')} />
        </label>
        <label className="field">
          <span>Ends</span>
          <input type="datetime-local" name="endsAt" className="input" value={f.endsAt} onChange={set('endsAt')} />
        </label>
        <label className="field">
          <span>Priority</span>
          <input type="number" name="priority" className="input" value={f.priority} onChange={set('priority')} step={1} title="Higher shows first" />
        </label>
      </div>
      <ErrorNote error={error} />
      {done && (
        <p className="note ok" role="status">
          {done}
        </p>
      )}
      <button type="submit" className="button primary" disabled={busy}>
        {busy ? 'Publishing…' : 'Publish'}
      </button>
    </form>
  );
}
