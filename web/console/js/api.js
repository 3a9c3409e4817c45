// api.js - the one door to the admin REST API: JSON in and out, the CSRF
// header on every write, and errors as ApiError with the field they name.
//
// The session cookie is HttpOnly: this module never sees it. The CSRF token
// from the sign-in reply lives in sessionStorage, so a reload keeps the
// session while a new tab or browser must sign in again.

const BASE = '/api/v1/admin';
const CSRF_KEY = 'parley.csrf';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
    // The API names the field at fault in its message: "field 'x' ...",
    // "setting 'x' ...", "query parameter 'x' ...".
    const m = /\b(?:field|setting|parameter|member) '([^']+)'/.exec(message || '');
    this.field = m ? m[1] : null;
  }
}

let onSessionLost = () => {};

/* Called with the ApiError when the server no longer knows the session
 * (expired, signed out, or the administrator signed in elsewhere). */
export function setSessionLostHandler(fn) {
  onSessionLost = fn;
}

export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

export function hasCsrf() {
  return !!sessionStorage.getItem(CSRF_KEY);
}

/* One request. `path` is relative to /api/v1/admin unless it starts with
 * /api/. Resolves to the parsed JSON (or text for non-JSON replies), throws
 * ApiError. */
export async function request(method, path, body) {
  const url = path.startsWith('/api/') ? path : BASE + path;
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  const type = res.headers.get('Content-Type') || '';
  const data = type.startsWith('application/json') ? await res.json().catch(() => null) : await res.text();
  if (res.ok) return data;
  const err = data && data.error ? data.error : {};
  const e = new ApiError(res.status, err.code || 'http_' + res.status,
                         err.message || `The server answered ${res.status}.`);
  if (res.status === 401 && e.code === 'unauthenticated' && path !== '/login') onSessionLost(e);
  throw e;
}

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b);
export const put = (p, b) => request('PUT', p, b);
export const patch = (p, b) => request('PATCH', p, b);
export const del = (p) => request('DELETE', p);

/* Query string from an object, skipping empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

/* Path of network `id`'s resource `rest`. */
export const net = (id, rest = '') => `/networks/${encodeURIComponent(id)}${rest}`;

/* The absolute URL of an API path, for download links. */
export const url = (p) => (p.startsWith('/api/') ? p : BASE + p);
