// node --test dcos/web/test: auth.js' pure parts (the login page's `next` and the token's uid),
// without a browser (run by tests/web/test_js_units.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';

const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
globalThis.location = { protocol: 'https:', hash: '' };
globalThis.document = { cookie: '' };

const { safeNext, tokenUid, setToken, clearToken, authHeaders } = await import('../src/auth.js');

test('next: only in-app paths, never the login page or another origin', () => {
  assert.equal(safeNext('/services/detail/%2Fweb?tab=tasks'), '/services/detail/%2Fweb?tab=tasks');
  for (const bad of [undefined, '', 'https://evil.example/', '//evil.example/x', '/login', '/login?next=/x', 42]) {
    assert.equal(safeNext(bad), '/dashboard', String(bad));
  }
});

test('the token: headers, uid, cookie, forgotten', () => {
  const payload = Buffer.from(JSON.stringify({ uid: 'alice', exp: 1 })).toString('base64url');
  const jwt = `h.${payload}.s`;
  setToken(jwt);
  assert.deepEqual(authHeaders(), { Authorization: `token=${jwt}` });
  assert.equal(tokenUid(), 'alice');
  assert.match(document.cookie, /^dcos-acs-auth-cookie=h\..+; Path=\/; SameSite=Strict; Max-Age=\d+; Secure$/);
  clearToken();
  assert.deepEqual(authHeaders(), {});
  assert.equal(tokenUid(), '');
  assert.match(document.cookie, /Max-Age=0/);
});
