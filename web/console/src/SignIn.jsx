// The sign-in form: a bearer token for the admin schema, checked against the
// API before the session starts, so a wrong token is reported here.
import { useState } from 'react';
import { ApiError, gql, describe } from './api.js';
import { claimsOf } from './session.js';
import { useTitle } from './router.js';

export default function SignIn({ onSignedIn, notice }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useTitle('Sign in');

  async function submit(e) {
    e.preventDefault();
    const t = token.trim().replace(/^bearer\s+/i, '');
    if (!t) {
      setError('Paste a bearer token first.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      await gql(t, '{ configVersion }');
      onSignedIn(t);
    } catch (err) {
      setError(signInError(err, t));
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} noValidate>
        <div className="signin-brand">
          <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width="40" height="40" />
          <div>
            <h1>Wallet admin console</h1>
            <p className="muted">Switches, activities, announcements and the audit log.</p>
          </div>
        </div>
        <label className="field">
          <span>Bearer token</span>
          <textarea
            name="token"
            rows={4}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="eyJhbGciOiJIUzI1NiIs…"
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            autoFocus
            required
            aria-invalid={error ? true : undefined}
            onKeyDown={(e) => {
              // A token has no line breaks: Enter signs in.
              if (e.key === 'Enter' && !e.shiftKey) submit(e);
            }}
          />
        </label>
        {notice && !error && <p className="note info">{notice}</p>}
        {error && (
          <p className="note error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary wide" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          A JWT with role <code>viewer</code>, <code>operator</code> or <code>admin</code>; it is kept in this tab only. For
          development:
          <code className="cmd">go run . token --act 1001 --roles operator</code>
        </p>
      </form>
    </main>
  );
}

function signInError(err, token) {
  if (err instanceof ApiError) {
    if (err.code === 'FORBIDDEN') {
      const { roles } = claimsOf(token);
      const held = roles.length ? ` (it holds ${roles.join(', ')})` : '';
      return `This token has no admin role${held}: the console needs viewer, operator or admin.`;
    }
    if (err.code === 'UNAUTHENTICATED') return `The server refused this token: ${err.message}.`;
  }
  return describe(err);
}
