// Activities with their phases, and for the chosen one its budgets and
// running totals, refreshed every few seconds.
import { useTitle } from './router.js';
import { ErrorNote, Freshness, Link, fmtShort, fmtTime, isLive, useQuery } from './ui.jsx';
import { count, percent, yuan } from './money.js';

export const ACTIVITIES = `query Activities {
  activities {
    id name parentId phase startsAt endsAt budgetTotal
    scenes { id awardType perTxnLimit budgetTotal reserveRatio ratePerSecond }
  }
}`;

const FIGURES = `query Figures($id: ID!) {
  activityStats(activityId: $id) { issuedAmount issuedCount settledAmount pendingAmount withdrawnAmount }
  budgets(activityId: $id) { sceneId total issued remaining reserveRatio exhausted }
}`;

/** Parents first (by start), each followed by its phases; orphans last. */
export function tree(activities) {
  const byParent = new Map();
  for (const a of activities) {
    const k = a.parentId ?? '';
    if (!byParent.has(k)) byParent.set(k, []);
    byParent.get(k).push(a);
  }
  const ids = new Set(activities.map((a) => a.id));
  const sorted = (list) => [...list].sort((x, y) => x.startsAt.localeCompare(y.startsAt) || x.id.localeCompare(y.id));
  const out = [];
  const walk = (a, depth) => {
    out.push({ a, depth });
    for (const c of sorted(byParent.get(a.id) ?? [])) walk(c, depth + 1);
  };
  for (const a of sorted(activities.filter((a) => !a.parentId || !ids.has(a.parentId)))) walk(a, 0);
  return out;
}

export default function Activities({ route }) {
  useTitle('Activities');
  const q = useQuery(ACTIVITIES, {}, { interval: 15000 });
  const list = q.data?.activities ?? [];
  const rows = tree(list);
  const chosenId = route[0] ?? rows[0]?.a.id ?? '';
  const chosen = list.find((a) => a.id === chosenId);

  return (
    <section className="page">
      <header className="page-head">
        <div>
          <h1>Activities</h1>
          <p className="muted">A parent's children are its phases; requests use the phase whose window holds the time.</p>
        </div>
      </header>
      <ErrorNote error={q.error} />
      <div className="split">
        <nav className="card activity-list" aria-label="Activities">
          {rows.map(({ a, depth }) => (
            <Link
              key={a.id}
              to={['activities', a.id]}
              className={`activity-item depth-${Math.min(depth, 3)}`}
              aria-current={a.id === chosenId ? 'true' : undefined}
              data-activity={a.id}
            >
              <span className="activity-name">
                {isLive(a) && <span className="live-dot" title="Window open now" />}
                {a.name}
              </span>
              <span className="activity-sub">
                <code>{a.id}</code>
                <span className={`phase phase-${a.phase.toLowerCase()}`}>{a.phase}</span>
              </span>
            </Link>
          ))}
          {q.data && !rows.length && <p className="empty">No activity yet.</p>}
        </nav>
        <div className="detail">
          {chosen ? (
            <ActivityDetail a={chosen} all={list} />
          ) : (
            q.data && chosenId && <p className="note error">No activity {chosenId}.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function ActivityDetail({ a, all }) {
  const f = useQuery(FIGURES, { id: a.id }, { interval: 3000 });
  const children = all.filter((c) => c.parentId === a.id);
  const liveChild = children.find((c) => isLive(c));
  const parent = all.find((p) => p.id === a.parentId);
  const stats = f.data?.activityStats;
  const budgets = f.data?.budgets ?? [];

  return (
    <>
      <div className="card detail-head">
        <div className="detail-title">
          <h2>{a.name}</h2>
          <span className={`phase phase-${a.phase.toLowerCase()}`}>{a.phase}</span>
          {isLive(a) ? <span className="pill ok">window open</span> : <span className="pill">window closed</span>}
        </div>
        <dl className="facts">
          <div>
            <dt>Id</dt>
            <dd>
              <code>{a.id}</code>
            </dd>
          </div>
          <div>
            <dt>Window</dt>
            <dd title={`${fmtTime(a.startsAt)} – ${fmtTime(a.endsAt)}`}>
              {fmtShort(a.startsAt)} – {fmtShort(a.endsAt)}
            </dd>
          </div>
          <div>
            <dt>Overall budget</dt>
            <dd>{BigInt(a.budgetTotal) === 0n ? 'no cap' : yuan(a.budgetTotal)}</dd>
          </div>
          {parent && (
            <div>
              <dt>Phase of</dt>
              <dd>
                <Link to={['activities', parent.id]}>{parent.name}</Link>
              </dd>
            </div>
          )}
          {children.length > 0 && (
            <div>
              <dt>Phases</dt>
              <dd className="chips">
                {children.map((c) => (
                  <Link key={c.id} to={['activities', c.id]} className={`chip ${c === liveChild ? 'chip-live' : ''}`}>
                    {c.phase.toLowerCase()}
                  </Link>
                ))}
              </dd>
            </div>
          )}
        </dl>
        {children.length > 0 && (
          <p className="muted small">
            Figures below are those of the live phase{liveChild ? <> (<code>{liveChild.id}</code>)</> : ''}.
          </p>
        )}
      </div>

      <div className="section-head">
        <h3>Running totals</h3>
        <Freshness at={f.at} loading={f.loading} />
      </div>
      {f.error && f.error.code === 'ACTIVITY_CLOSED' ? (
        <p className="note info">No phase of this activity is live now, so it has no current totals or budgets.</p>
      ) : (
        <ErrorNote error={f.error} />
      )}
      {stats && (
        <div className="stats" data-stats>
          <Stat label="Issued" value={yuan(stats.issuedAmount)} sub={`${count(stats.issuedCount)} rewards`} />
          <Stat label="Settled" value={yuan(stats.settledAmount)} sub="cash in the ledger" />
          <Stat label="Pending" value={yuan(stats.pendingAmount)} sub="cash not yet settled" />
          <Stat label="Withdrawn" value={yuan(stats.withdrawnAmount)} sub="paid or being paid" />
        </div>
      )}

      {f.data && (
        <>
          <div className="section-head">
            <h3>Budgets</h3>
          </div>
          <div className="card table-wrap">
            <table className="table" data-budgets>
              <thead>
                <tr>
                  <th>Scene</th>
                  <th className="num">Total</th>
                  <th className="num">Issued</th>
                  <th className="num">Remaining</th>
                  <th>Used</th>
                  <th className="num">Reserve</th>
                </tr>
              </thead>
              <tbody>
                {budgets.map((b) => (
                  <BudgetRow key={b.sceneId} b={b} />
                ))}
                {!budgets.length && (
                  <tr>
                    <td colSpan={6} className="empty">
                      No scene has a budget here.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}

      {a.scenes.length > 0 && (
        <>
          <div className="section-head">
            <h3>Scenes defined here</h3>
          </div>
          <div className="card table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Scene</th>
                  <th>Award</th>
                  <th className="num">Budget</th>
                  <th className="num">Per reward</th>
                  <th className="num">Reserve</th>
                  <th className="num">Rate</th>
                </tr>
              </thead>
              <tbody>
                {a.scenes.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <code>{s.id}</code>
                    </td>
                    <td>
                      <span className="pill">{s.awardType}</span>
                    </td>
                    <td className="num">{yuan(s.budgetTotal)}</td>
                    <td className="num">{BigInt(s.perTxnLimit) === 0n ? 'no limit' : yuan(s.perTxnLimit)}</td>
                    <td className="num">{ratio(s.reserveRatio)}</td>
                    <td className="num">{s.ratePerSecond ? `${count(s.ratePerSecond)}/s` : 'unlimited'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

function Stat({ label, value, sub }) {
  return (
    <div className="card stat">
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      <span className="stat-sub">{sub}</span>
    </div>
  );
}

function BudgetRow({ b }) {
  // Widths in whole per-mille, computed on integers.
  const total = BigInt(b.total);
  const used = total > 0n ? Number((BigInt(b.issued) * 1000n) / total) : 0;
  const reserve = Math.round(b.reserveRatio * 1000);
  return (
    <tr data-budget={b.sceneId} className={b.exhausted ? 'exhausted' : ''}>
      <td>
        <code>{b.sceneId}</code> {b.exhausted && <span className="pill danger">exhausted</span>}
      </td>
      <td className="num">{yuan(b.total)}</td>
      <td className="num">{yuan(b.issued)}</td>
      <td className="num">{yuan(b.remaining)}</td>
      <td>
        <div className="meter" title={`${percent(b.issued, b.total)} issued; the last ${ratio(b.reserveRatio)} is the reserve`}>
          <div className="meter-fill" style={{ width: `${Math.min(used, 1000) / 10}%` }} />
          {reserve > 0 && <div className="meter-reserve" style={{ width: `${Math.min(reserve, 1000) / 10}%` }} />}
        </div>
        <span className="small muted">{percent(b.issued, b.total) || '–'}</span>
      </td>
      <td className="num">{ratio(b.reserveRatio)}</td>
    </tr>
  );
}

/** A ratio such as 0.1 as "10%" (not money: a float is fine here). */
function ratio(r) {
  return `${Math.round(r * 1000) / 10}%`;
}
