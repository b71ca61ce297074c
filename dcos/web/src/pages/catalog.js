// The Catalog: the packages of the configured repositories (`#/catalog`), one package with its
// versions and an install form generated from its config schema (`#/catalog/<name>`), and the
// installed packages with uninstall.
// Talks to the package service through the gateway (`/package/*`, Cosmos' API and vendor media
// types via api.js `cosmos`): search v1, describe (response v3: `{package}`), install (response
// v2: with postInstallNotes), list, uninstall; icons through `/package/resource?url=`. App
// status of installed packages from the webapp (`/service/marathon/v2/apps`).
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import { api, cosmos } from '../api.js';
import { href } from '../router.js';
import { ErrorText, Field, Table, Tabs } from '../ui.js';
import {
  SchemaForm, changedOptions, defaultsOf, fieldIdOf, placeErrors, serverFieldErrors, validateOptions,
} from './schema_form.js';

// --- helpers -----------------------------------------------------------------------------

/**
 * An image URL the browser can load through the gateway: the package service hands out its own
 * address (`http://<service>/package/resource[/<name>]?url=...`), which the browser may not
 * reach; the gateway serves the same path. A public http(s) image is used as it is.
 */
export function imageUrl(url) {
  if (typeof url !== 'string' || !url) return null;
  const at = url.indexOf('/package/resource');
  if (at >= 0) return url.slice(at);
  return /^https?:\/\//.test(url) ? url : null;
}

/** The icon of a search entry for a `size`-pixel box: Cosmos' `images` keys are `icon-small`
 * (48x48), `icon-medium` (96x96) and `icon-large` (256x256); the best fit first (2x screens). */
function iconOf(pkg, size) {
  const images = (pkg && pkg.images) || {};
  const order = size > 48 ? ['icon-large', 'icon-medium', 'icon-small'] : ['icon-medium', 'icon-large', 'icon-small'];
  for (const key of order) {
    const url = imageUrl(images[key]);
    if (url) return url;
  }
  return null;
}

function Icon({ pkg, size = 48 }) {
  const [broken, setBroken] = useState(false);
  const src = iconOf(pkg, size);
  const style = `width:${size}px;height:${size}px;border-radius:8px;flex:none`;
  if (src && !broken) {
    return html`<img class="package-icon" src=${src} alt=${((pkg && pkg.name) || 'package') + ' icon'} width=${size} height=${size}
      style=${style + ';object-fit:contain'} onError=${() => setBroken(true)} />`;
  }
  const letter = ((pkg && pkg.name) || '?').slice(0, 1).toUpperCase();
  return html`<span aria-hidden="true" style=${style + `;display:inline-flex;align-items:center;
    justify-content:center;background:#e3e9f7;color:#2a5bd7;font-weight:700;font-size:${Math.round(size / 2)}px`}>${letter}</span>`;
}

/** Versions of a search entry, newest (highest releaseVersion) first. */
function versionsOf(entry) {
  return Object.entries((entry && entry.versions) || {})
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map(([v]) => v);
}

/** The webapp's apps (for the status of installed packages). */
async function webappApps() {
  const body = await api.get('/service/marathon/v2/apps');
  return body.apps || [];
}

/** The status of an installed instance: its app, or every app of its group (group packages). */
function appStatus(apps, appId) {
  const mine = apps.filter((a) => a.id === appId || a.id.startsWith(appId + '/'));
  if (!mine.length) return { text: 'Not in the webapp', cls: 'warn', done: true };
  const sum = (f) => mine.reduce((n, a) => n + (f(a) || 0), 0);
  const running = sum((a) => a.tasksRunning);
  const healthy = sum((a) => ((a.healthChecks || []).length ? a.tasksHealthy : a.tasksRunning));
  const wanted = sum((a) => a.instances);
  const checks = mine.some((a) => (a.healthChecks || []).length > 0);
  if (mine.some((a) => (a.deployments || []).length) || running < wanted) {
    return { text: `Deploying (${running} of ${wanted} running)`, cls: 'Deploying', done: false };
  }
  if (checks && healthy < running) return { text: `Running (${healthy} of ${running} healthy)`, cls: 'Deploying', done: false };
  return { text: `Running (${running} of ${wanted})`, cls: 'Running', done: true };
}

// --- the catalog page ----------------------------------------------------------------------

export function CatalogPage() {
  const [search, setSearch] = useState('');
  const [packages, setPackages] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let gone = false;
    const t = setTimeout(() => {
      cosmos('search', { query: search.trim() })
        .then((body) => { if (!gone) { setPackages(body.packages || []); setError(null); } })
        .catch((e) => { if (!gone) setError(e); });
    }, search ? 250 : 0);
    return () => { gone = true; clearTimeout(t); };
  }, [search]);
  return html`<h1>Catalog</h1>
    <div class="field">
      <label for="catalog-search">Search packages</label>
      <input id="catalog-search" type="search" value=${search} placeholder="name, description or tag"
        onInput=${(e) => setSearch(e.target.value)} />
    </div>
    <${ErrorText} error=${error} />
    ${packages === null && !error && html`<p class="hint" role="status">Loading the catalog…</p>`}
    ${packages && packages.length === 0 && html`<p class="hint">No package matches “${search}”. Repositories are set in${' '}<a href=${href('/settings')}>Settings</a>.</p>`}
    ${packages && packages.length > 0 && html`<ul class="cards" aria-label="Packages" style="list-style:none;padding:0;margin:0">
      ${packages.map((p) => html`<li key=${p.name} class="card package-card" style="display:flex;gap:12px">
        <${Icon} pkg=${p} />
        <div style="min-width:0">
          <h2 style="margin:0 0 4px"><a href=${href('/catalog/' + encodeURIComponent(p.name))}>${p.name}</a></h2>
          <div class="hint">${p.currentVersion}${p.framework ? ' · framework' : ''}${p.selected ? ' · selected' : ''}</div>
          <p style="margin:6px 0;overflow-wrap:anywhere">${p.description}</p>
          ${(p.tags || []).length > 0 && html`<div class="hint">${p.tags.join(', ')}</div>`}
        </div>
      </li>`)}
    </ul>`}
    <h2 id="installed">Installed packages</h2>
    <${InstalledPackages} />`;
}

// --- installed packages ------------------------------------------------------------------

/** The installed packages (`/package/list`) with their app's status and an uninstall action. */
export function InstalledPackages({ packageName, refreshKey = 0 }) {
  const [items, setItems] = useState(null);
  const [apps, setApps] = useState([]);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const [confirm, setConfirm] = useState(null); // appId awaiting confirmation
  const [busy, setBusy] = useState({}); // appId -> started (ms)
  const [leaving, setLeaving] = useState({}); // appId -> its row, kept shown while it uninstalls
  const [rowError, setRowError] = useState({}); // appId -> error
  const [done, setDone] = useState(null); // {appId, name, notes}
  const [, setNow] = useState(0);

  useEffect(() => {
    let gone = false;
    Promise.all([cosmos('list', packageName ? { packageName } : {}), webappApps().catch(() => [])])
      .then(([body, list]) => {
        if (gone) return;
        setItems(body.packages || []);
        setApps(list);
        setError(null);
      })
      .catch((e) => { if (!gone) setError(e); });
    return () => { gone = true; };
  }, [tick, refreshKey, packageName]);

  // While an app is still deploying (or an uninstall runs), look again every 3 s.
  const settling = items && items.some((p) => !appStatus(apps, p.appId).done);
  const uninstalling = Object.keys(busy).length > 0;
  useEffect(() => {
    if (!settling && !uninstalling) return undefined;
    const t = setInterval(() => { setTick((x) => x + 1); setNow(Date.now()); }, uninstalling ? 1000 : 3000);
    return () => clearInterval(t);
  }, [settling, uninstalling]);

  const uninstall = async (p) => {
    const appId = p.appId;
    const name = p.packageInformation.packageDefinition.name;
    setConfirm(null);
    setDone(null);
    setRowError((r) => ({ ...r, [appId]: null }));
    setBusy((b) => ({ ...b, [appId]: Date.now() }));
    setLeaving((l) => ({ ...l, [appId]: p }));
    try {
      const body = await cosmos('uninstall', { packageName: name, appId });
      const result = (body.results || [])[0] || {};
      setDone({ appId, name, notes: result.postUninstallNotes || '' });
    } catch (e) {
      setRowError((r) => ({ ...r, [appId]: e }));
    } finally {
      setBusy((b) => { const n = { ...b }; delete n[appId]; return n; });
      setLeaving((l) => { const n = { ...l }; delete n[appId]; return n; });
      setTick((x) => x + 1);
    }
  };

  if (error) return html`<${ErrorText} error=${error} />`;
  if (items === null) return html`<p class="hint" role="status">Loading installed packages…</p>`;
  // the package service stops listing an instance once its app is deleted, before its tasks
  // have ended: its row stays (with the progress) until the uninstall call returns
  const rows = items.concat(Object.values(leaving).filter((p) => !items.some((x) => x.appId === p.appId)));
  const statusOf = (p) => (busy[p.appId] ? { text: 'Uninstalling', cls: 'warn', done: false } : appStatus(apps, p.appId));
  const columns = [
    { key: 'appId', label: 'Service', render: (p) => html`<a href=${href('/services/detail/' + encodeURIComponent(p.appId))}>${p.appId}</a>` },
    { key: 'name', label: 'Package', sortValue: (p) => p.packageInformation.packageDefinition.name,
      render: (p) => html`<a href=${href('/catalog/' + encodeURIComponent(p.packageInformation.packageDefinition.name))}>${p.packageInformation.packageDefinition.name}</a>` },
    { key: 'version', label: 'Version', sortValue: (p) => p.packageInformation.packageDefinition.version,
      render: (p) => p.packageInformation.packageDefinition.version },
    { key: 'status', label: 'Status', sortValue: (p) => statusOf(p).text,
      render: (p) => {
        const s = statusOf(p);
        return html`<span class=${'status ' + s.cls}>${s.text}</span>`;
      } },
    { key: 'actions', label: 'Actions', render: (p) => html`<${UninstallCell} p=${p}
        confirming=${confirm === p.appId} started=${busy[p.appId]} error=${rowError[p.appId]}
        onAsk=${() => setConfirm(p.appId)} onCancel=${() => setConfirm(null)}
        onConfirm=${() => uninstall(p)} />` },
  ];
  return html`<div>
    ${done && html`<p role="status" class="card" style="margin-bottom:10px">
      <strong>${done.name}</strong> (${done.appId}) is uninstalled.${done.notes ? ' ' + done.notes : ''}</p>`}
    <${Table} label="Installed packages" columns=${columns} rows=${rows} rowKey=${(p) => p.appId}
      filterText=${(p) => `${p.appId} ${p.packageInformation.packageDefinition.name}`}
      empty=${packageName ? `No instance of ${packageName} is installed.` : 'No package is installed.'} />
  </div>`;
}

function UninstallCell({ p, confirming, started, error, onAsk, onCancel, onConfirm }) {
  const name = p.packageInformation.packageDefinition.name;
  if (started) {
    const s = Math.round((Date.now() - started) / 1000);
    return html`<span role="status" aria-live="polite">Uninstalling… ${s} s (removing the app, waiting for its tasks${
      p.packageInformation.packageDefinition.framework ? ' and framework' : ''} to end)</span>`;
  }
  if (confirming) {
    return html`<div role="group" aria-label=${'Confirm uninstall of ' + p.appId}>
      <p style="margin:0 0 6px">Uninstall ${name} (${p.appId})? Its app and tasks are removed.</p>
      <div class="actions" style="margin:0">
        <button class="danger" onClick=${onConfirm}>Yes, uninstall</button>
        <button onClick=${onCancel}>Cancel</button>
      </div>
    </div>`;
  }
  return html`<div>
    <button class="danger" onClick=${onAsk} aria-label=${'Uninstall ' + p.appId}>Uninstall</button>
    <${ErrorText} error=${error} />
  </div>`;
}

// --- one package ---------------------------------------------------------------------------

export function PackagePage({ params, query }) {
  const name = params.name;
  const [entry, setEntry] = useState(null); // the search entry: versions and images
  const [version, setVersion] = useState(query.version || null);
  const [pkg, setPkg] = useState(null); // describe v3 `package`
  const [error, setError] = useState(null);
  const [installed, setInstalled] = useState(0); // bumped by an install: the list re-reads

  useEffect(() => {
    let gone = false;
    cosmos('search', { query: name })
      .then((body) => {
        if (gone) return;
        const found = (body.packages || []).find((p) => p.name === name);
        setEntry(found || { name, versions: {} });
        if (!version && found) setVersion(found.currentVersion);
      })
      .catch((e) => { if (!gone) setError(e); });
    return () => { gone = true; };
  }, [name]);

  useEffect(() => {
    if (!version && !entry) return undefined; // wait for the search to pick the newest
    let gone = false;
    setPkg(null);
    cosmos('describe', version ? { packageName: name, packageVersion: version } : { packageName: name },
      { responseVersion: 'v3' })
      .then((body) => { if (!gone) { setPkg(body.package); setError(null); } })
      .catch((e) => { if (!gone) setError(e); });
    return () => { gone = true; };
  }, [name, version, entry !== null]);

  const versions = versionsOf(entry);
  return html`<p><a href=${href('/catalog')}>Catalog</a> / ${name}</p>
    <div style="display:flex;gap:14px;align-items:center;margin-bottom:12px">
      <${Icon} pkg=${entry || { name }} size=${64} />
      <div>
        <h1 style="margin:0">${name}</h1>
        ${pkg && html`<div class="hint">${pkg.version}${pkg.framework ? ' · framework' : ''}${pkg.maintainer ? ' · ' + pkg.maintainer : ''}</div>`}
      </div>
    </div>
    <${ErrorText} error=${error} />
    ${versions.length > 0 && html`<div class="field">
      <label for="package-version">Version</label>
      <select id="package-version" value=${version || ''} onChange=${(e) => setVersion(e.target.value)}>
        ${versions.map((v) => html`<option value=${v}>${v}${entry && v === entry.currentVersion ? ' (newest)' : ''}</option>`)}
      </select>
    </div>`}
    ${!pkg && !error && html`<p class="hint" role="status">Loading ${name}…</p>`}
    ${pkg && html`<${PackageDetails} pkg=${pkg} />
      <h2>Install</h2>
      <${InstallForm} key=${pkg.name + '@' + pkg.version} pkg=${pkg} onInstalled=${() => setInstalled((x) => x + 1)} />
      <h2>Installed instances</h2>
      <${InstalledPackages} packageName=${name} refreshKey=${installed} />`}`;
}

function PackageDetails({ pkg }) {
  return html`<section class="card" aria-label="Description">
    <p style="margin-top:0">${pkg.description}</p>
    <dl class="kv">
      ${pkg.tags && pkg.tags.length > 0 && html`<dt>Tags</dt><dd>${pkg.tags.join(', ')}</dd>`}
      ${pkg.website && html`<dt>Website</dt><dd><a href=${pkg.website} rel="noopener" target="_blank">${pkg.website}</a></dd>`}
      ${pkg.licenses && pkg.licenses.length > 0 && html`<dt>Licenses</dt><dd>${pkg.licenses.map((l, i) =>
        html`${i ? ', ' : ''}${l.url ? html`<a href=${l.url} rel="noopener" target="_blank">${l.name}</a>` : l.name}`)}</dd>`}
      ${pkg.minDcosReleaseVersion && html`<dt>Needs DC/OS</dt><dd>${pkg.minDcosReleaseVersion} or newer</dd>`}
      ${pkg.upgradesFrom && pkg.upgradesFrom.length > 0 && html`<dt>Upgrades from</dt><dd>${pkg.upgradesFrom.join(', ')}</dd>`}
    </dl>
    ${pkg.preInstallNotes && html`<p><strong>Before installing:</strong> ${pkg.preInstallNotes}</p>`}
  </section>`;
}

/** The install form: options from the config schema (form or JSON), an optional app id. */
function InstallForm({ pkg, onInstalled }) {
  const schema = pkg.config || null;
  const defaults = useMemo(() => defaultsOf(schema), [schema]);
  const [value, setValue] = useState(defaults);
  const [tab, setTab] = useState('form');
  const [jsonText, setJsonText] = useState('');
  const [jsonError, setJsonError] = useState('');
  const [appId, setAppId] = useState('');
  const [errors, setErrors] = useState({}); // pointer -> message (placed on fields)
  const [error, setError] = useState(null); // the refusal as a whole
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const formRef = useRef(null);

  const switchTab = (id) => {
    if (id === tab) return;
    if (id === 'json') {
      setJsonText(JSON.stringify(value, null, 2));
      setJsonError('');
    } else {
      try {
        const parsed = jsonText.trim() ? JSON.parse(jsonText) : {};
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the options must be a JSON object');
        setValue(parsed);
      } catch (e) {
        setJsonError(`Fix the JSON first: ${e.message}`);
        return;
      }
    }
    setTab(id);
  };

  const focusFirst = (placed) => {
    const first = Object.keys(placed).find((p) => p !== '');
    if (first === undefined || tab !== 'form') return;
    setTimeout(() => {
      const el = document.getElementById(fieldIdOf(first));
      if (el) el.focus();
    }, 0);
  };

  const install = async (e) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    let options = value;
    if (tab === 'json') {
      try {
        options = jsonText.trim() ? JSON.parse(jsonText) : {};
        if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new Error('the options must be a JSON object');
      } catch (err) {
        setJsonError(`Not valid JSON: ${err.message}`);
        return;
      }
      setJsonError('');
    }
    const local = schema ? validateOptions(schema, options) : {};
    if (Object.keys(local).length) {
      const placed = placeErrors(schema, local);
      setErrors(placed);
      setError(new Error(`${Object.keys(local).length} option${Object.keys(local).length > 1 ? 's are' : ' is'} not valid: see the marked fields.`));
      focusFirst(placed);
      return;
    }
    setErrors({});
    const body = { packageName: pkg.name, packageVersion: pkg.version };
    const changed = schema ? changedOptions(defaults, options) : {};
    if (Object.keys(changed).length) body.options = changed;
    if (appId.trim()) body.appId = appId.trim();
    setBusy(true);
    try {
      setResult(await cosmos('install', body, { responseVersion: 'v2' }));
      if (onInstalled) onInstalled();
    } catch (err) {
      const fieldErrors = serverFieldErrors(err);
      if (fieldErrors && schema) {
        const placed = placeErrors(schema, fieldErrors);
        setErrors(placed);
        focusFirst(placed);
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const errorList = Object.entries(errors);
  return html`<form ref=${formRef} onSubmit=${install} aria-label=${'Install ' + pkg.name} noValidate>
    <${Tabs} tabs=${[{ id: 'form', label: 'Options' }, { id: 'json', label: 'JSON editor' }]}
      active=${tab} onSelect=${switchTab} />
    ${tab === 'form' && html`<div role="tabpanel" aria-labelledby="tab-form">
      <${SchemaForm} schema=${schema} value=${value} errors=${errors} onChange=${(v) => { setValue(v); }} />
    </div>`}
    ${tab === 'json' && html`<div role="tabpanel" aria-labelledby="tab-json">
      <${Field} id="options-json" label="Options (JSON)" error=${jsonError}
          hint="The whole options object; the form and this editor show the same options.">
        <textarea id="options-json" class="code" value=${jsonText}
          onInput=${(e) => setJsonText(e.target.value)} spellcheck="false"></textarea>
      </${Field}>
      ${errorList.length > 0 && html`<ul class="field-error" aria-label="Option errors">
        ${errorList.map(([p, m]) => html`<li><code>${p || '/'}</code>: ${m}</li>`)}</ul>`}
    </div>`}
    <${Field} id="install-app-id" label="App id (optional)"
        hint="Install under this id instead of the one the options give (to run a second instance).">
      <input id="install-app-id" type="text" value=${appId} onInput=${(e) => setAppId(e.target.value)} />
    </${Field}>
    <div class="actions">
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Installing…' : `Install ${pkg.name} ${pkg.version}`}</button>
      <button type="button" onClick=${() => { setValue(defaults); setJsonText(JSON.stringify(defaults, null, 2)); setErrors({}); setError(null); }}>Reset to defaults</button>
    </div>
    <div id="install-result">
      <${ErrorText} error=${error} />
      ${result && html`<div class="card" role="status">
        <p style="margin-top:0"><strong>${result.packageName} ${result.packageVersion}</strong> is installed as${' '}<a href=${href('/services/detail/' + encodeURIComponent(result.appId))}>${result.appId}</a>.</p>
        ${result.postInstallNotes && html`<p>${result.postInstallNotes}</p>`}
      </div>`}
    </div>
  </form>`;
}
