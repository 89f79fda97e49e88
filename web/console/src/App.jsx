// The console shell: sign-in when there is no session, else the header with
// navigation and the current view.
import { useCallback, useMemo, useState } from 'react';
import { ApiError, gql } from './api.js';
import { claimsOf, clearToken, loadToken, saveToken } from './session.js';
import { useRoute } from './router.js';
import { ApiContext, Link } from './ui.jsx';
import SignIn from './SignIn.jsx';
import Switches from './Switches.jsx';
import Activities from './Activities.jsx';
import Announcements from './Announcements.jsx';
import Audit from './Audit.jsx';

const VIEWS = [
  { path: '', label: 'Switches', view: Switches },
  { path: 'activities', label: 'Activities', view: Activities },
  { path: 'announcements', label: 'Announcements', view: Announcements },
  { path: 'audit', label: 'Audit log', view: Audit },
];

export default function App() {
  const [token, setToken] = useState(loadToken);
  // Why the last session ended, shown on the sign-in form.
  const [notice, setNotice] = useState('');

  const signIn = useCallback((t) => {
    saveToken(t);
    setNotice('');
    setToken(t);
  }, []);

  const signOut = useCallback((why = '') => {
    clearToken();
    setNotice(why);
    setToken('');
  }, []);

  // Every request of the session goes through call; a token that stops
  // working (expired, secret rotated) ends the session with the reason.
  const call = useCallback(
    async (query, variables) => {
      try {
        return await gql(token, query, variables);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
          signOut(`Signed out: ${err.message}.`);
        }
        throw err;
      }
    },
    [token, signOut],
  );

  if (!token) return <SignIn onSignedIn={signIn} notice={notice} />;
  return (
    <ApiContext.Provider value={call}>
      <Shell token={token} onSignOut={() => signOut('')} />
    </ApiContext.Provider>
  );
}

function Shell({ token, onSignOut }) {
  const route = useRoute();
  const claims = useMemo(() => claimsOf(token), [token]);
  const current = VIEWS.find((v) => v.path === (route[0] ?? '')) ?? null;
  const View = current?.view;

  return (
    <div className="shell">
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="" className="brand" aria-label="Wallet admin: switches">
            <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width="26" height="26" />
            <span>
              Wallet <b>admin</b>
            </span>
          </Link>
          <nav className="tabs" aria-label="Sections">
            {VIEWS.map((v) => (
              <Link key={v.path} to={v.path} className="tab" aria-current={v === current ? 'page' : undefined}>
                {v.label}
              </Link>
            ))}
          </nav>
          <div className="who">
            <span className="identity" title={claims.expires ? `Token expires ${claims.expires.toLocaleString()}` : undefined}>
              <span className="muted">act</span> {claims.actId || '?'}
              <span className={`role role-${claims.role || 'none'}`} data-role={claims.role}>
                {claims.role || 'no admin role'}
              </span>
            </span>
            <button type="button" className="button ghost" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main className="content">
        {View ? (
          <View route={route.slice(1)} role={claims.role} />
        ) : (
          <section className="empty">
            <h1>Nothing here</h1>
            <p>
              There is no page at this address. <Link to="">Go to the switches.</Link>
            </p>
          </section>
        )}
      </main>
    </div>
  );
}
