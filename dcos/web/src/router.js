// Hash routing (`#/services/detail/%2Fweb`): the gateway serves one index.html and needs no
// route table. `useRoute()` re-renders its caller when the hash changes; `match` is used by
// main.js against the table in routes.js.
import { useEffect, useState } from './lib.js';

/** The current route: {path, query} parsed from location.hash. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/dashboard';
  const [path, qs = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(qs)) };
}

/** A hook: the current route, updated on every hash change. */
export function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** The href of an in-app path (`href('/nodes')` -> `#/nodes`). */
export function href(path, query) {
  const qs = query ? '?' + new URLSearchParams(query).toString() : '';
  return '#' + path + qs;
}

/** Go to an in-app path. */
export function navigate(path, query) {
  location.hash = href(path, query).slice(1);
}

/**
 * Match `path` against a pattern such as `/services/detail/:id` (`:name` takes one segment,
 * decoded). Returns the params, or null.
 */
export function match(pattern, path) {
  const ps = pattern.split('/');
  const xs = path.split('/');
  if (ps.length !== xs.length) return null;
  const params = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(':')) {
      try {
        params[ps[i].slice(1)] = decodeURIComponent(xs[i]);
      } catch {
        return null;
      }
    } else if (ps[i] !== xs[i]) {
      return null;
    }
  }
  return params;
}
