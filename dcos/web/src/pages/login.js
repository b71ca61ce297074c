// The login page (`#/login?next=<path>`), shown when an API answered 401 (security on: see
// auth.js). The user's uid and password go to `POST /acs/api/v1/auth/login` through the
// gateway; the token is kept (auth.js `setToken`) and the page goes back to `next` (the page
// the user was on). A wrong password shows the cluster's message under the form.
import { html, useEffect, useRef, useState } from '../lib.js';
import { request } from '../api.js';
import { login, safeNext } from '../auth.js';
import { navigate } from '../router.js';
import { ErrorText, Field } from '../ui.js';

export function LoginPage({ query }) {
  const [uid, setUid] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { first.current?.focus(); }, []);

  const submit = async (e) => {
    e.preventDefault();
    if (!uid.trim() || !password) {
      setError(new Error('Enter your user name and password.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await login(uid.trim(), password, request);
      const [path, qs = ''] = safeNext(query && query.next).split('?');
      navigate(path, qs ? Object.fromEntries(new URLSearchParams(qs)) : undefined);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return html`<div class="login-wrap">
    <form class="card login" onSubmit=${submit} aria-labelledby="login-title" noValidate>
      <h1 id="login-title">Log in to dcos-py</h1>
      <p class="hint">This cluster needs you to log in. Ask its operator for an account
        (the first one is <code>admin</code>: <code>dcos-py up --secure</code> prints its password).</p>
      <${Field} id="login-uid" label="User">
        <input id="login-uid" ref=${first} type="text" autocomplete="username" value=${uid}
          onInput=${(e) => setUid(e.target.value)} />
      </${Field}>
      <${Field} id="login-password" label="Password">
        <input id="login-password" type="password" autocomplete="current-password" value=${password}
          onInput=${(e) => setPassword(e.target.value)} />
      </${Field}>
      <div class="actions">
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
      </div>
      <${ErrorText} error=${error} id="login-error" />
    </form>
  </div>`;
}
