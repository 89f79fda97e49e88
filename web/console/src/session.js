// The signed-in token lives in sessionStorage: it survives reloads of this
// tab and is gone when the tab closes, and other tabs do not share it.

const KEY = 'wallet-admin-token';

export function loadToken() {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function saveToken(token) {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // Storage disabled: the session then lasts until the next reload.
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}

const ADMIN_ROLES = ['admin', 'operator', 'viewer'];

/**
 * The token's claims, read without verification: only to label the session.
 * The server checks the signature and roles on every request.
 */
export function claimsOf(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const c = JSON.parse(json);
    const roles = Array.isArray(c.roles) && c.roles.length ? c.roles.map(String) : ['user'];
    return {
      actId: c.act_id != null ? String(c.act_id) : '',
      roles,
      role: ADMIN_ROLES.find((r) => roles.includes(r)) ?? '',
      expires: typeof c.exp === 'number' ? new Date(c.exp * 1000) : null,
    };
  } catch {
    return { actId: '', roles: [], role: '', expires: null };
  }
}
