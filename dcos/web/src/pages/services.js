// The Services page (`#/services`): every app of the webapp framework with its status,
// instances, health and resources, filtered by group and status, paginated by ui.js `Table`
// (1,000 apps render one page at a time), live from marathon.js `useMarathon()`.
// `ServiceActions` (scale, restart, edit, suspend/resume, delete, each with its error next to
// it) is also used by the service page (pages/service.js).
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { ErrorText, Table, fmtMem, fmtNum } from '../ui.js';
import { MARATHON, STATUS, appUrl, healthText, marathon, statusClass, useMarathon } from '../marathon.js';

/** The groups above an app id: `/a/b/c` -> [`/a`, `/a/b`]. */
export function groupsOf(id) {
  const parts = id.split('/').filter(Boolean);
  const out = [];
  for (let i = 1; i < parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

/** The path of an app's page. */
export function servicePath(id) {
  return '/services/detail/' + encodeURIComponent(id);
}

/**
 * Run one change against Marathon: `call(force)` does the request; on 409 (a deployment holds
 * the app) the caller may offer to retry with `force`. Then the live model refreshes the app, or
 * forgets it after `delete` (fetching it would only answer 404).
 */
async function change(name, id, call, force) {
  await call(force ? { query: { force: 'true' } } : {});
  if (name === 'delete') marathon().forget(id);
  else marathon().refresh([id]);
}

// In a table row: smaller buttons, no margin.
const COMPACT = 'margin:0;gap:4px;font-size:13px';

/** The changes of one app, as buttons (`compact` in a table row); each shows its error next to it (role=alert). */
export function ServiceActions({ app, status, onDeleted, compact = false }) {
  const id = app.id;
  const [mode, setMode] = useState(null); // null | 'scale' | 'delete'
  const [count, setCount] = useState(String(app.instances || 1));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [retry, setRetry] = useState(null); // the action a 409 refused (offered with force)
  const suspended = status === STATUS.SUSPENDED || app.instances === 0;
  const first = useRef(null); // the scale form's input, or the delete confirmation's button
  useEffect(() => { if (mode && first.current) first.current.focus(); }, [mode]);

  const run = async (name, call, force = false) => {
    setBusy(true);
    setError(null);
    setRetry(null);
    try {
      await change(name, id, call, force);
      setMode(null);
      if (name === 'delete' && onDeleted) onDeleted();
    } catch (e) {
      setError(e);
      if (e.status === 409 && !force) setRetry({ name, call });
    } finally {
      setBusy(false);
    }
  };
  const scale = (n) => (o) => api.put(appUrl(id), { instances: n }, o);
  const label = (verb) => `${verb} ${id}`;

  const onScale = (e) => {
    e.preventDefault();
    const n = Number(count);
    if (!Number.isInteger(n) || n < 0) {
      setError(new Error('Instances must be a whole number, 0 or more.'));
      return;
    }
    run('scale', scale(n));
  };

  return html`<div class="service-actions" data-testid=${'actions-' + id}>
    ${mode === 'scale' && html`<form class="actions" onSubmit=${onScale}>
      <label for=${'scale-' + id}>Instances</label>
      <input id=${'scale-' + id} ref=${first} type="number" min="0" step="1" size="4" value=${count}
        aria-label=${'Instances of ' + id} onInput=${(e) => setCount(e.target.value)} />
      <button class="primary" type="submit" disabled=${busy}>Scale</button>
      <button type="button" onClick=${() => { setMode(null); setError(null); }}>Cancel</button>
    </form>`}
    ${mode === 'delete' && html`<div class="actions" role="group" aria-label=${'Confirm deleting ' + id}>
      <span>Delete <code>${id}</code> and kill its tasks?</span>
      <button class="danger" ref=${first} disabled=${busy}
        onClick=${() => run('delete', (o) => api.del(appUrl(id), o))}>Yes, delete</button>
      <button onClick=${() => setMode(null)}>Cancel</button>
    </div>`}
    ${!mode && html`<div class="actions" style=${compact ? COMPACT : undefined}>
      <button aria-label=${label('Scale')} disabled=${busy}
        onClick=${() => { setCount(String(app.instances || 1)); setMode('scale'); }}>Scale</button>
      <button aria-label=${label('Restart')} disabled=${busy || suspended}
        onClick=${() => run('restart', (o) => api.post(appUrl(id, '/restart'), {}, o))}>Restart</button>
      <a class="button" aria-label=${label('Edit')} href=${href('/services/edit/' + encodeURIComponent(id))}>Edit</a>
      ${suspended
        ? html`<button aria-label=${label('Resume')} disabled=${busy}
            onClick=${() => { setCount('1'); setMode('scale'); }}>Resume</button>`
        : html`<button aria-label=${label('Suspend')} disabled=${busy}
            onClick=${() => run('suspend', scale(0))}>Suspend</button>`}
      <button class="danger" aria-label=${label('Delete')} disabled=${busy}
        onClick=${() => setMode('delete')}>Delete</button>
    </div>`}
    <${ErrorText} error=${error} />
    ${retry && html`<button onClick=${() => run(retry.name, retry.call, true)}>
      Force it (override the running deployment)</button>`}
  </div>`;
}

/** The deployments under way, each with a button rolling it back (DELETE /v2/deployments). */
function Deployments({ deployments }) {
  const [error, setError] = useState(null);
  if (!deployments.length) return null;
  const rollback = async (d) => {
    setError(null);
    try {
      await api.del(`${MARATHON}/deployments/${d.id}`);
      marathon().refresh(d.affectedApps || []);
    } catch (e) {
      setError(e);
    }
  };
  return html`<section aria-label="Deployments">
    <h2>Deployments under way</h2>
    <ul class="deployments">
      ${deployments.map((d) => html`<li key=${d.id}>
        ${(d.affectedApps || []).join(', ')}: step ${d.currentStep} of ${d.totalSteps}
        ${(d.currentActions || []).map((a) => html` <small>(${a.action} ${a.app})</small>`)}
        ${' '}<button onClick=${() => rollback(d)}>Roll back</button>
      </li>`)}
    </ul>
    <${ErrorText} error=${error} />
  </section>`;
}

const nowrap = (text) => html`<span style="white-space:nowrap">${text}</span>`;

function Name({ app }) {
  const parts = app.id.split('/');
  const name = parts.pop();
  const group = parts.join('/') || '/';
  return html`<a href=${href(servicePath(app.id))}><strong>${name}</strong></a>
    <br /><small class="hint">${group}</small>`;
}

export function ServicesPage({ query = {} }) {
  const m = useMarathon();
  const [group, setGroup] = useState(query.group || '');
  const [status, setStatus] = useState('');

  const groups = useMemo(() => {
    const s = new Set();
    for (const a of m.apps) for (const g of groupsOf(a.id)) s.add(g);
    return [...s].sort();
  }, [m.apps]);
  const rows = useMemo(() => m.apps.filter((a) =>
    (!group || a.id.startsWith(group + '/')) && (!status || m.status.get(a.id) === status)),
  [m.apps, m.status, group, status]);

  const columns = [
    { key: 'id', label: 'Name', render: (a) => html`<${Name} app=${a} />` },
    { key: 'status', label: 'Status', sortValue: (a) => m.status.get(a.id),
      render: (a) => html`<span class=${statusClass(m.status.get(a.id))}>${m.status.get(a.id)}</span>` },
    { key: 'instances', label: 'Instances', sortValue: (a) => a.instances,
      render: (a) => html`<span aria-label="running of target">${a.tasksRunning || 0}/${a.instances}</span>` },
    { key: 'health', label: 'Health', sortValue: (a) => healthText(a), render: healthText },
    { key: 'cpus', label: 'CPUs', render: (a) => fmtNum(a.cpus, 2) },
    { key: 'mem', label: 'Memory', render: (a) => nowrap(fmtMem(a.mem)) },
    { key: 'disk', label: 'Disk', render: (a) => nowrap(fmtMem(a.disk)) },
    { key: 'gpus', label: 'GPUs', render: (a) => fmtNum(a.gpus || 0) },
    { key: 'actions', label: 'Actions', sortValue: (a) => a.id,
      render: (a) => html`<${ServiceActions} app=${a} status=${m.status.get(a.id)} compact />` },
  ];

  return html`<section class="services">
    <h1>${group ? `Services in ${group}` : 'Services'}</h1>
    <div class="actions">
      <a class="button primary" href=${href('/services/new')}>Create service</a>
      <label>Group <select aria-label="Group" value=${group} onChange=${(e) => setGroup(e.target.value)}>
        <option value="">All groups</option>
        ${groups.map((g) => html`<option value=${g}>${g}</option>`)}
      </select></label>
      <label>Status <select aria-label="Status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">Any status</option>
        ${Object.values(STATUS).map((s) => html`<option value=${s}>${s}</option>`)}
      </select></label>
      <span class="hint" aria-live="polite">${m.connected ? 'Live' : m.loading ? 'Loading...' : 'Reconnecting...'}</span>
    </div>
    <${ErrorText} error=${m.error} />
    <${Deployments} deployments=${m.deployments} />
    <${Table} label="Services" columns=${columns} rows=${rows} rowKey=${(a) => a.id}
      filterText=${(a) => a.id + ' ' + m.status.get(a.id)}
      empty=${m.loading ? 'Loading...' : html`No services yet. <a href=${href('/services/new')}>Create one</a>.`} />
  </section>`;
}
