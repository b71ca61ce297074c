// The login token of a cluster with security on (`dcos-py up --secure`).
// `login(uid, password)` POSTs /acs/api/v1/auth/login through the gateway and keeps the token
// in localStorage (key `dcos-py.token`) and in the `dcos-acs-auth-cookie` cookie (the gateway
// takes the cookie for GET/HEAD only: EventSource streams, images and download links cannot send
// headers). api.js and master.js send `Authorization: token=<jwt>` on every call (`authHeaders`).
// A 401 anywhere calls `needLogin()`: the token is forgotten and the login page (`#/login`)
// opens with `next` = where the user was; after the login it goes back there. `logout()` POSTs
// /acs/api/v1/auth/logout (the master revokes the token) and forgets it.
// With security off nothing answers 401, so none of this shows.
import { currentRoute, navigate } from './router.js';

const KEY = 'dcos-py.token';
export const COOKIE = 'dcos-acs-auth-cookie';
export const LOGIN_PATH = '/login';

/** The stored token, or '' when none. */
export function getToken() {
  try {
    return localStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

function setCookie(value, maxAge) {
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${COOKIE}=${value}; Path=/; SameSite=Strict; Max-Age=${maxAge}${secure}`;
}

const loginListeners = new Set();

/** Call `fn()` after each login (master.js reconnects its stream at once then). */
export function onLogin(fn) {
  loginListeners.add(fn);
  return () => loginListeners.delete(fn);
}

/** Keep `token` (localStorage + cookie) and tell the `onLogin` listeners. */
export function setToken(token) {
  try {
    localStorage.setItem(KEY, token);
  } catch { /* private mode: the cookie still carries it for this session */ }
  setCookie(encodeURIComponent(token), 5 * 24 * 3600);
  for (const fn of loginListeners) fn();
}

/** Forget the token. */
export function clearToken() {
  try {
    localStorage.removeItem(KEY);
  } catch { /* nothing stored */ }
  setCookie('', 0);
}

/** The headers that authenticate a call: `{Authorization: 'token=<jwt>'}`, or {} without one. */
export function authHeaders() {
  const t = getToken();
  return t ? { Authorization: `token=${t}` } : {};
}

/** Where the user is now, as `path?query` (the login page's `next`). */
function here() {
  const { path, query } = currentRoute();
  const qs = new URLSearchParams(query).toString();
  return path + (qs ? '?' + qs : '');
}

/** An API answered 401: forget the token and open the login page (once), to come back here. */
export function needLogin() {
  clearToken();
  const { path } = currentRoute();
  if (path === LOGIN_PATH) return;
  navigate(LOGIN_PATH, { next: here() });
}

/** A `next` value as a safe in-app path (anything else: the dashboard). */
export function safeNext(next) {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && next !== LOGIN_PATH
    && !next.startsWith(LOGIN_PATH + '?')
    ? next
    : '/dashboard';
}

/** POST the credentials; keeps and returns the token. Throws the API's error (api.js ApiError). */
export async function login(uid, password, request) {
  const body = await request('POST', '/acs/api/v1/auth/login', { uid, password }, { noLogin: true });
  const token = body && body.token;
  if (!token) throw new Error('the cluster answered without a token');
  setToken(token);
  return token;
}

/** Revoke the token at the master (best effort) and forget it. */
export async function logout(request) {
  try {
    if (getToken()) await request('POST', '/acs/api/v1/auth/logout', {}, { noLogin: true });
  } catch { /* already invalid or unreachable: forgetting it is what matters */ }
  clearToken();
}

/** The uid in the stored token's claims (shown in Settings), '' when none or unreadable. */
export function tokenUid() {
  const part = getToken().split('.')[1];
  if (!part) return '';
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json);
    return typeof claims.uid === 'string' ? claims.uid : '';
  } catch {
    return '';
  }
}
