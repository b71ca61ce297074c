// Settings (`#/settings`): the package repositories of the package service, in priority order
// (a package is taken from the first repository that has it). Add (name, URI, optional
// position), remove, and move up/down -- a move is a delete and an add at the new position, as
// the DC/OS UI did, since Cosmos has no reorder call. Each error is shown next to the action
// that failed, in the package service's own words (api.js turns its `{type, message}` into
// plain words).
// Calls: `/package/repository/list`, `/add`, `/delete` through the gateway (api.js `cosmos`).
// With a login token (security on), an Account section first: who is logged in, and Log out
// (auth.js `logout`: `POST /acs/api/v1/auth/logout`, the token forgotten, the login page).
import { html, useEffect, useState } from '../lib.js';
import { cosmos, request } from '../api.js';
import { getToken, logout, tokenUid, LOGIN_PATH } from '../auth.js';
import { navigate } from '../router.js';
import { ErrorText, Field } from '../ui.js';

const repoCall = (action, body) => cosmos(action, body, { group: 'repository' });

export function SettingsPage() {
  const [repos, setRepos] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [rowError, setRowError] = useState({}); // repository name -> error of its last action
  const [busy, setBusy] = useState(null); // name of the repository being changed
  const [confirm, setConfirm] = useState(null); // name awaiting "remove?" confirmation
  const [notice, setNotice] = useState('');

  const load = () => repoCall('list', {})
    .then((body) => { setRepos(body.repositories || []); setLoadError(null); })
    .catch(setLoadError);
  useEffect(() => { load(); }, []);

  const remove = async (repo) => {
    setConfirm(null);
    setBusy(repo.name);
    setRowError((r) => ({ ...r, [repo.name]: null }));
    try {
      const body = await repoCall('delete', { name: repo.name });
      setRepos(body.repositories || []);
      setNotice(`Repository ${repo.name} removed.`);
    } catch (e) {
      setRowError((r) => ({ ...r, [repo.name]: e }));
    } finally {
      setBusy(null);
    }
  };

  /** Move `repo` from `from` to `to`: delete, then add at `to`; put it back if the add fails. */
  const move = async (repo, from, to) => {
    setBusy(repo.name);
    setRowError((r) => ({ ...r, [repo.name]: null }));
    try {
      await repoCall('delete', { name: repo.name });
      let body;
      try {
        body = await repoCall('add', { name: repo.name, uri: repo.uri, index: to });
      } catch (e) {
        try {
          await repoCall('add', { name: repo.name, uri: repo.uri, index: from });
        } catch (e2) {
          e.message = `${e.message} (and it could not be put back: ${e2.message}; add it again below)`;
        }
        throw e;
      }
      setRepos(body.repositories || []);
      setNotice(`Repository ${repo.name} moved to position ${to + 1}.`);
    } catch (e) {
      setRowError((r) => ({ ...r, [repo.name]: e }));
      load();
    } finally {
      setBusy(null);
    }
  };

  return html`<h1>Settings</h1>
    <${Account} />
    <h2 id="repositories">Package repositories</h2>
    <p class="hint">The Catalog takes each package from the first repository (highest priority) that has it.</p>
    <${ErrorText} error=${loadError} />
    ${notice && html`<p role="status" class="hint">${notice}</p>`}
    ${repos === null && !loadError && html`<p class="hint" role="status">Loading repositories…</p>`}
    ${repos && html`<div class="table-wrap"><table aria-labelledby="repositories">
      <thead><tr><th scope="col">Priority</th><th scope="col">Name</th><th scope="col">URI</th><th scope="col">Actions</th></tr></thead>
      <tbody>
        ${repos.length === 0 && html`<tr><td colspan="4" class="empty">No repository: the Catalog is empty. Add one below.</td></tr>`}
        ${repos.map((r, i) => html`<tr key=${r.name}>
          <td data-label="Priority">${i + 1}</td>
          <td data-label="Name">${r.name}</td>
          <td data-label="URI"><code style="word-break:break-all">${r.uri}</code></td>
          <td data-label="Actions">
            ${confirm === r.name
              ? html`<div role="group" aria-label=${'Confirm removal of ' + r.name}>
                  <span>Remove ${r.name}? </span>
                  <button class="danger" onClick=${() => remove(r)}>Yes, remove</button>
                  <button onClick=${() => setConfirm(null)}>Cancel</button>
                </div>`
              : html`<div class="actions" style="margin:0">
                  <button disabled=${busy !== null || i === 0} onClick=${() => move(r, i, i - 1)}
                    aria-label=${'Move ' + r.name + ' up'}>Up</button>
                  <button disabled=${busy !== null || i === repos.length - 1} onClick=${() => move(r, i, i + 1)}
                    aria-label=${'Move ' + r.name + ' down'}>Down</button>
                  <button class="danger" disabled=${busy !== null} onClick=${() => setConfirm(r.name)}
                    aria-label=${'Remove ' + r.name}>Remove</button>
                </div>`}
            ${busy === r.name && html`<span role="status">Working…</span>`}
            <${ErrorText} error=${rowError[r.name]} />
          </td>
        </tr>`)}
      </tbody>
    </table></div>`}
    ${repos && html`<${AddRepository} count=${repos.length} onAdded=${(list, name) => {
      setRepos(list);
      setNotice(`Repository ${name} added.`);
    }} />`}`;
}

function Account() {
  const [busy, setBusy] = useState(false);
  if (!getToken()) return null;
  const uid = tokenUid();
  const out = async () => {
    setBusy(true);
    await logout(request);
    navigate(LOGIN_PATH);
  };
  return html`<section aria-labelledby="account">
    <h2 id="account">Account</h2>
    <p>Logged in${uid ? html` as <strong>${uid}</strong>` : ''}.
      <button type="button" onClick=${out} disabled=${busy}>${busy ? 'Logging out…' : 'Log out'}</button></p>
  </section>`;
}

function AddRepository({ count, onAdded }) {
  const [name, setName] = useState('');
  const [uri, setUri] = useState('');
  const [index, setIndex] = useState('');
  const [error, setError] = useState(null);
  const [fieldErrors, setFieldErrors] = useState({});
  const [busy, setBusy] = useState(false);

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const errs = {};
    if (!name.trim()) errs.name = 'required';
    if (!uri.trim()) errs.uri = 'required';
    let at;
    if (index.trim() !== '') {
      at = Number(index);
      if (!Number.isInteger(at) || at < 1 || at > count + 1) errs.index = `a position from 1 to ${count + 1}`;
    }
    setFieldErrors(errs);
    if (Object.keys(errs).length) return;
    const body = { name: name.trim(), uri: uri.trim() };
    if (at !== undefined) body.index = at - 1;
    setBusy(true);
    try {
      const out = await repoCall('add', body);
      onAdded(out.repositories || [], body.name);
      setName('');
      setUri('');
      setIndex('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<form class="card" style="margin-top:16px" onSubmit=${submit} aria-labelledby="add-repo" noValidate>
    <h2 id="add-repo" style="margin-top:0">Add a repository</h2>
    <${Field} id="repo-name" label="Name" error=${fieldErrors.name}>
      <input id="repo-name" type="text" value=${name} onInput=${(e) => setName(e.target.value)} />
    </${Field}>
    <${Field} id="repo-uri" label="URI" error=${fieldErrors.uri}
        hint="The repository's index: http(s):// or file:// (a Universe repo.json, or a dcos-py catalog index).">
      <input id="repo-uri" type="url" value=${uri} onInput=${(e) => setUri(e.target.value)} />
    </${Field}>
    <${Field} id="repo-index" label="Priority (optional)" error=${fieldErrors.index}
        hint=${`1 is the highest; empty: last (${count + 1}).`}>
      <input id="repo-index" type="text" inputmode="numeric" value=${index} onInput=${(e) => setIndex(e.target.value)} />
    </${Field}>
    <div class="actions">
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Adding… (fetching its index)' : 'Add repository'}</button>
    </div>
    <${ErrorText} error=${error} id="add-repo-error" />
  </form>`;
}
