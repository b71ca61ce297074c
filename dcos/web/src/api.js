// HTTP calls to the gateway (same origin): `api.get('/service/marathon/v2/apps')` and friends
// return the parsed JSON body (or text) and throw an ApiError whose `message` is plain words
// taken from the API's own error format: Marathon `{message, details:[{path, errors}]}`, Cosmos
// `{type, message, data}`, Mesos plain text, the gateway's `{code, message}`.
// Pages show `error.message` next to the action that failed (ui.js `ErrorText`).
// Every call carries the login token when there is one (auth.js `authHeaders`); a 401 answer
// opens the login page (auth.js `needLogin`) unless `opts.noLogin` (the login page's own calls).
import { authHeaders, needLogin } from './auth.js';

export class ApiError extends Error {
  /** status: HTTP status (0: the gateway did not answer); details: [{path, errors: [..]}]. */
  constructor(status, message, details = [], body = null) {
    super(message);
    this.status = status;
    this.details = details;
    this.body = body;
  }
}

/** The plain-words message and field details of an error answer. */
export function describeError(status, body, statusText) {
  if (body && typeof body === 'object') {
    const details = Array.isArray(body.details)
      ? body.details.map((d) => ({ path: d.path || '', errors: d.errors || [] }))
      : [];
    let message = body.message || body.description || body.title || '';
    if (!message && details.length) message = details.map((d) => `${d.path}: ${d.errors.join(', ')}`).join('; ');
    if (body.type && message) message = `${message}`;
    return { message: message || `${status} ${statusText}`, details };
  }
  const text = typeof body === 'string' ? body.trim() : '';
  return { message: text || `${status} ${statusText}`, details: [] };
}

function withQuery(path, query) {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) v.forEach((x) => qs.append(k, x));
    else if (v !== undefined && v !== null) qs.append(k, v);
  }
  const s = qs.toString();
  return s ? path + (path.includes('?') ? '&' : '?') + s : path;
}

/**
 * One request. `body` (an object) is sent as JSON unless `opts.raw`; `opts.headers` are added;
 * `opts.query` becomes the query string (arrays repeat the key); `opts.signal` aborts;
 * `opts.noLogin`: a 401 is only thrown (no login page).
 */
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...authHeaders(), ...(opts.headers || {}) };
  let payload;
  if (body !== undefined) {
    payload = opts.raw ? body : JSON.stringify(body);
    if (!opts.raw && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
  }
  let resp;
  try {
    resp = await fetch(withQuery(path, opts.query), { method, headers, body: payload, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The gateway did not answer (${e.message}). Is the cluster running?`);
  }
  const type = resp.headers.get('Content-Type') || '';
  const text = await resp.text();
  let data = text;
  if (type.includes('json') && text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!resp.ok) {
    if (resp.status === 401 && !opts.noLogin) needLogin();
    const { message, details } = describeError(resp.status, data, resp.statusText);
    throw new ApiError(resp.status, message, details, data);
  }
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  patch: (path, body, opts) => request('PATCH', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
};

/**
 * A Cosmos (package service) call through the gateway: `cosmos('install', {...})` POSTs to
 * `/package/install` with Cosmos' vendor media types (`application/vnd.dcos.package.<action>-
 * request+json;charset=utf-8;version=v1`, and the matching response type in Accept).
 * `group` is `package` (default) or `repository` (`/package/repository/list`).
 */
export function cosmos(action, body = {}, { group = 'package', version = 'v1', responseVersion } = {}) {
  const name = group === 'repository' ? `package.repository.${action}` : `package.${action}`;
  const rv = responseVersion || version;
  return request('POST', `/package/${group === 'repository' ? 'repository/' : ''}${action}`, body, {
    headers: {
      'Content-Type': `application/vnd.dcos.${name}-request+json;charset=utf-8;version=${version}`,
      Accept: `application/vnd.dcos.${name}-response+json;charset=utf-8;version=${rv}`,
    },
  });
}

/** `error` in plain words, for display (any thrown value). */
export function errorText(error) {
  if (!error) return '';
  if (error instanceof ApiError) return error.message;
  return String(error.message || error);
}
