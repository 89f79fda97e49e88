// The admin GraphQL client: one POST per operation to the endpoint the Go
// handler names in <meta name="wallet-graphql-endpoint">, with the bearer
// token. Errors come back as ApiError carrying the contract's code.

/** The endpoint injected by the Go handler; /admin/query otherwise (vite preview). */
export function endpoint(doc = globalThis.document) {
  const meta = doc?.querySelector('meta[name="wallet-graphql-endpoint"]');
  return meta?.getAttribute('content') || '/admin/query';
}

/** An error answered by the API (code from extensions.code) or met on the way. */
export class ApiError extends Error {
  constructor(message, { code = '', requestId = '', field = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.requestId = requestId;
    this.field = field;
  }
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact as BigInt. Money is Int64
 * fen; a JSON number that large would otherwise be rounded silently.
 */
export function parseJSON(text) {
  return JSON.parse(text, (_key, value, ctx) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && ctx && /^-?\d+$/.test(ctx.source)) {
      return BigInt(ctx.source);
    }
    return value;
  });
}

/** Runs one GraphQL operation and returns its data, or throws ApiError. */
export async function gql(token, query, variables = {}, { signal } = {}) {
  let resp;
  try {
    resp = await fetch(endpoint(), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError('The server cannot be reached. Is it running?', { code: 'NETWORK' });
  }
  const text = await resp.text();
  let body;
  try {
    body = parseJSON(text);
  } catch {
    throw new ApiError(`The server answered HTTP ${resp.status} without a GraphQL response.`, { code: `HTTP_${resp.status}` });
  }
  if (body.errors?.length) {
    const e = body.errors[0];
    const ext = e.extensions ?? {};
    throw new ApiError(e.message, { code: ext.code ?? '', requestId: ext.requestId ?? '', field: ext.field ?? '' });
  }
  if (!resp.ok || !body.data) {
    throw new ApiError(`The server answered HTTP ${resp.status}.`, { code: `HTTP_${resp.status}` });
  }
  return body.data;
}

/** A sentence for people, built from an ApiError (or anything thrown). */
export function describe(err) {
  if (!(err instanceof ApiError)) return String(err?.message ?? err);
  switch (err.code) {
    case 'FORBIDDEN':
      return `Your role may not do this: ${err.message}.`;
    case 'UNAUTHENTICATED':
      return `Not signed in: ${err.message}.`;
    case 'INTERNAL':
      return `The server failed${err.requestId ? ` (request ${err.requestId})` : ''}.`;
    default:
      return err.message.endsWith('.') ? err.message : `${err.message}.`;
  }
}
