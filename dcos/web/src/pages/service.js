// One service's page (`#/services/detail/<encoded app id>`), live from marathon.js
// `useMarathon()`: its status and actions (pages/services.js `ServiceActions`), and three tabs:
//   Tasks          its tasks, each linking to the task page (W1's pages/task.js)
//   Configuration  its versions (/v2/apps/<id>/versions), one shown and diffed against the
//                  current definition, and rolled back to (PUT {"version"})
//   Debug          the last task failure with the tail of that task's stderr/stdout (read through
//                  the gateway's /agent/<agent id>/ state and files API), and why the launch
//                  queue's recent offers were declined (/v2/queue processedOffersSummary)
// A group id (`/shop`) shows the Services list filtered to that group.
import { html, useEffect, useMemo, useState } from '../lib.js';
import { api } from '../api.js';
import { href, navigate } from '../router.js';
import { ErrorText, StateText, TabPanel, Table, Tabs, fmtAgo, fmtMem, fmtNum, fmtTime, taskHref } from '../ui.js';
import { MARATHON, appUrl, healthText, marathon, statusClass, useMarathon } from '../marathon.js';
import { ServiceActions, ServicesPage, groupsOf, servicePath } from './services.js';
import { definition } from './service_form.js';
import { findExecutor } from './task.js';

const TAIL_BYTES = 16 * 1024;
const SHOWN_VERSIONS = 20; // newest first; a button shows the rest

function taskHealth(t) {
  const r = (t.healthCheckResults || [])[0];
  if (!r) return '-';
  return r.alive ? 'Healthy' : `Unhealthy${r.lastFailureCause ? ': ' + r.lastFailureCause : ''}`;
}

function TasksTab({ app, frameworkId }) {
  const columns = [
    { key: 'id', label: 'Task',
      render: (t) => html`<a href=${taskHref({ id: t.id, agentId: t.slaveId, frameworkId })}>${t.id}</a>` },
    { key: 'state', label: 'State', render: (t) => html`<${StateText} state=${t.state} />` },
    { key: 'host', label: 'Host' },
    { key: 'ports', label: 'Ports', render: (t) => (t.ports || []).join(', ') || '-' },
    { key: 'health', label: 'Health', sortValue: taskHealth, render: taskHealth },
    { key: 'startedAt', label: 'Started', render: (t) => (t.startedAt ? fmtAgo(t.startedAt) : 'not yet') },
    { key: 'version', label: 'Version', render: (t) => html`<small>${t.version}</small>` },
  ];
  return html`<${Table} label="Tasks" columns=${columns} rows=${app.tasks || []} rowKey=${(t) => t.id}
    filterText=${(t) => `${t.id} ${t.state} ${t.host}`} empty=${app.tasks ? 'No tasks run now.' : 'Loading...'} />`;
}

/** A line diff of two texts (LCS): [[' ' | '-' | '+', line]], or null when too long to compare. */
export function diffLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 400000) return null;
  const n = x.length, m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) {
    L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push([' ', x[i]]); i++; j++; }
    else if (i < n && (j >= m || L[i + 1][j] >= L[i][j + 1])) { out.push(['-', x[i]]); i++; }
    else { out.push(['+', y[j]]); j++; }
  }
  return out;
}

const CONTEXT = 2; // unchanged lines shown around each change

/** The changed lines of a diff with CONTEXT lines around them; `...` for the lines left out. */
export function hunks(d) {
  const keep = d.map(() => false);
  d.forEach(([k], i) => {
    if (k === ' ') return;
    for (let j = Math.max(0, i - CONTEXT); j <= Math.min(d.length - 1, i + CONTEXT); j++) keep[j] = true;
  });
  const out = [];
  d.forEach((line, i) => {
    if (keep[i]) out.push(line);
    else if (i === 0 || keep[i - 1]) out.push(['', '...']);
  });
  return out;
}

function Diff({ from, to }) {
  const d = useMemo(() => diffLines(from, to), [from, to]);
  if (!d) return html`<p class="hint">Too long to compare here.</p>`;
  if (d.every(([k]) => k === ' ')) return html`<p>Same as the current definition.</p>`;
  return html`<pre class="diff" aria-label="Changes from this version to the current one">${hunks(d).map(([k, line]) =>
    html`<div style=${k === '+' ? 'background:#e6f4ea' : k === '-' ? 'background:#fdecea' : ''}>${k || ' '} ${line}</div>`)}</pre>`;
}

function ConfigTab({ app }) {
  const id = app.id;
  const [versions, setVersions] = useState(null);
  const [chosen, setChosen] = useState(null); // {version, def}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [allVersions, setAllVersions] = useState(false);
  const current = useMemo(() => JSON.stringify(definition(app), null, 2), [app]);

  useEffect(() => {
    api.get(appUrl(id, '/versions')).then((b) => setVersions(b.versions || []), setError);
  }, [id, app.version]);

  const show = async (v) => {
    setError(null);
    try {
      setChosen({ version: v, def: JSON.stringify(definition(await api.get(appUrl(id, '/versions/' + v))), null, 2) });
    } catch (e) {
      setError(e);
    }
  };
  const rollback = async (force = false) => {
    setBusy(true);
    setError(null);
    try {
      await api.put(appUrl(id), { version: chosen.version }, force ? { query: { force: 'true' } } : {});
      marathon().refresh([id]);
      setChosen(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="config">
    <h2>Versions</h2>
    ${!versions && !error && html`<p>Loading...</p>`}
    ${versions && html`<ul class="versions">${versions.slice(0, allVersions ? undefined : SHOWN_VERSIONS).map((v) => html`<li key=${v}>
      <button class=${chosen && chosen.version === v ? 'primary' : ''} onClick=${() => show(v)}
        aria-label=${'Show version ' + v}>${fmtTime(v)}</button>
      ${v === app.version && html` <small>(current)</small>`}</li>`)}</ul>`}
    ${versions && versions.length > SHOWN_VERSIONS && !allVersions && html`<button
      onClick=${() => setAllVersions(true)}>Show all ${versions.length} versions</button>`}
    <${ErrorText} error=${error} />
    ${chosen && html`<section aria-label=${'Version ' + chosen.version}>
      <h2>Version ${fmtTime(chosen.version)}</h2>
      <div class="actions">
        <button class="primary" disabled=${busy || chosen.version === app.version}
          onClick=${() => rollback(false)}>Roll back to this version</button>
        ${error && error.status === 409 && html`<button onClick=${() => rollback(true)}>Force the rollback</button>`}
        <button onClick=${() => setChosen(null)}>Close</button>
      </div>
      <h3>Changes since, up to the current definition</h3>
      <${Diff} from=${chosen.def} to=${current} />
      <details><summary>This version's definition</summary><pre class="log">${chosen.def}</pre></details>
    </section>`}
    <h2>Current definition</h2>
    <div class="actions"><a class="button" href=${href('/services/edit/' + encodeURIComponent(id))}>Edit</a></div>
    <pre class="log" data-testid="current-definition">${current}</pre>
  </div>`;
}

/** The sandbox directory of task `taskId` on agent `agentId` (from the agent's /state). */
export async function sandboxOf(agentId, taskId, frameworkId) {
  const state = await api.get(`/agent/${encodeURIComponent(agentId)}/state`);
  const hit = findExecutor(state, taskId);
  if (hit) return hit.executor.directory;
  if (frameworkId) return `/frameworks/${frameworkId}/executors/${taskId}/runs/latest`;
  throw new Error(`Agent ${agentId} no longer knows task ${taskId} (its sandbox may have been removed).`);
}

/** The last TAIL_BYTES of a sandbox file, through the gateway's /agent/<id>/files/read. */
export async function readTail(agentId, path) {
  const url = `/agent/${encodeURIComponent(agentId)}/files/read`;
  const end = await api.get(url, { query: { path, offset: -1 } });
  const offset = Math.max(0, (end.offset || 0) - TAIL_BYTES);
  const body = await api.get(url, { query: { path, offset, length: TAIL_BYTES } });
  let data = body.data || '';
  if (offset > 0) data = data.slice(data.indexOf('\n') + 1); // drop the cut first line
  return data;
}

function SandboxTail({ agentId, taskId, frameworkId }) {
  const [logs, setLogs] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    setLogs(null);
    setError(null);
    (async () => {
      const dir = await sandboxOf(agentId, taskId, frameworkId);
      const [stderr, stdout] = await Promise.all(['stderr', 'stdout'].map((f) =>
        readTail(agentId, `${dir}/${f}`).catch((e) => `(could not read ${f}: ${e.message})`)));
      if (live) setLogs({ stderr, stdout });
    })().catch((e) => live && setError(e));
    return () => { live = false; };
  }, [agentId, taskId]);
  if (error) return html`<${ErrorText} error=${error} />`;
  if (!logs) return html`<p>Reading the task's sandbox...</p>`;
  return html`<h3>stderr (last lines)</h3>
    <pre class="log" data-testid="failure-stderr">${logs.stderr || '(empty)'}</pre>
    <details><summary>stdout (last lines)</summary><pre class="log">${logs.stdout || '(empty)'}</pre></details>
    <p><a href=${taskHref({ id: taskId, agentId, frameworkId })}>
      Open the task's page (all files, live log)</a></p>`;
}

function LastFailure({ failure, frameworkId }) {
  if (!failure) return html`<p>No task of this service has failed.</p>`;
  return html`<dl class="kv" data-testid="last-failure">
      <dt>Task</dt><dd>${failure.taskId}</dd>
      <dt>State</dt><dd><${StateText} state=${failure.state} /> (${failure.state})</dd>
      <dt>Message</dt><dd>${failure.message}</dd>
      <dt>Host</dt><dd>${failure.host}</dd>
      <dt>When</dt><dd>${fmtTime(failure.timestamp)} (${fmtAgo(failure.timestamp)})</dd>
      <dt>Version</dt><dd>${failure.version}</dd>
    </dl>
    ${failure.slaveId && html`<${SandboxTail} agentId=${failure.slaveId} taskId=${failure.taskId} frameworkId=${frameworkId} />`}`;
}

/** The launch queue's view of the app: its delay and why the last offers were declined. */
function Offers({ app, item }) {
  const [unused, setUnused] = useState([]);
  const [error, setError] = useState(null);
  const summary = (item && item.processedOffersSummary) || {};
  useEffect(() => {
    if (!item) return undefined;
    let live = true;
    api.get(`${MARATHON}/queue`, { query: { embed: 'lastUnusedOffers' } }).then((b) => {
      const mine = (b.queue || []).find((q) => q.app && q.app.id === app.id);
      if (live) setUnused((mine && mine.lastUnusedOffers) || []);
    }, () => live && setUnused([]));
    return () => { live = false; };
  }, [app.id, item && summary.lastUnusedOfferAt]);
  if (!item) return html`<p>No task of this service waits to be launched: no offers are being declined.</p>`;
  const delay = item.delay || {};
  const resetDelay = async () => {
    setError(null);
    try {
      await api.del(`${MARATHON}/queue${app.id}/delay`);
      marathon().refresh([app.id]);
    } catch (e) {
      setError(e);
    }
  };
  const declined = (summary.rejectSummaryLastOffers || []).filter((r) => r.declined > 0);
  return html`<div data-testid="offers">
    <p>${item.count} task(s) wait to be launched since ${fmtTime(item.since)}.
      ${delay.overdue === false && delay.timeLeftSeconds > 0
        ? html` Launches are delayed for ${delay.timeLeftSeconds} s more after failures.
            <button onClick=${resetDelay}>Reset the delay</button>`
        : ' No launch delay.'}</p>
    <${ErrorText} error=${error} />
    <p>Offers processed: ${summary.processedOffersCount || 0}, unused: ${summary.unusedOffersCount || 0};
      last unused offer ${summary.lastUnusedOfferAt ? fmtAgo(summary.lastUnusedOfferAt) : 'never'}.</p>
    ${(summary.reasons || []).length > 0 && html`<h3>Why offers were declined</h3>
      <ul data-testid="decline-reasons">${summary.reasons.map((r) => html`<li>${r}</li>`)}</ul>`}
    ${declined.length > 0 && html`<table aria-label="Declined offers by reason">
      <thead><tr><th>Reason</th><th>Declined</th><th>Of offers</th></tr></thead>
      <tbody>${declined.map((r) => html`<tr><td>${r.reason}</td><td>${r.declined}</td><td>${r.processed}</td></tr>`)}</tbody>
    </table>`}
    ${unused.length > 0 && html`<details><summary>Last unused offers (${unused.length})</summary>
      <table aria-label="Last unused offers"><thead><tr><th>Agent</th><th>Reason</th><th>When</th></tr></thead>
      <tbody>${unused.map((u) => html`<tr><td>${(u.offer && (u.offer.hostname || u.offer.agentId)) || '-'}</td>
        <td>${u.message || (u.reason || []).join(', ')}</td><td>${fmtAgo(u.timestamp)}</td></tr>`)}</tbody></table>
    </details>`}
  </div>`;
}

function DebugTab({ app, item, frameworkId }) {
  return html`<div class="debug">
    <h2>Last task failure</h2>
    <${LastFailure} failure=${app.lastTaskFailure} frameworkId=${frameworkId} />
    <h2>Waiting tasks and declined offers</h2>
    <${Offers} app=${app} item=${item} />
  </div>`;
}

const TABS = [
  { id: 'tasks', label: 'Tasks' },
  { id: 'configuration', label: 'Configuration' },
  { id: 'debug', label: 'Debug' },
];

export function ServicePage({ params = {}, query = {} }) {
  const id = params.id || '';
  const m = useMarathon();
  const tab = TABS.some((t) => t.id === query.tab) ? query.tab : 'tasks'; // the hash keeps the tab
  const app = m.byId.get(id);
  useEffect(() => m.needTasks(id), [id, !!app, !!(app && app.tasks)]); // the list has no tasks
  const isGroup = useMemo(() => !app && m.apps.some((a) => groupsOf(a.id).includes(id)), [app, m.apps, id]);

  if (!app) {
    if (isGroup) return html`<${ServicesPage} key=${id} query=${{ group: id }} />`;
    return html`<h1>${id}</h1>
      ${m.loading ? html`<p>Loading...</p>` : html`<${ErrorText} error=${m.error} />
        <p>There is no service <code>${id}</code> (any more). <a href=${href('/services')}>All services</a></p>`}`;
  }
  const status = m.status.get(id);
  const select = (t) => navigate(servicePath(id), t === 'tasks' ? undefined : { tab: t });
  const parent = groupsOf(id).pop();
  return html`<section class="service">
    <p><a href=${href('/services')}>Services</a>${parent && html` / <a href=${href(servicePath(parent))}>${parent}</a>`}</p>
    <h1>${id} <span class=${statusClass(status)} data-testid="service-status">${status}</span></h1>
    <dl class="kv">
      <dt>Instances</dt><dd data-testid="service-instances">${app.tasksRunning || 0} running of ${app.instances}</dd>
      <dt>Health</dt><dd>${healthText(app)}</dd>
      <dt>Resources</dt><dd>${fmtNum(app.cpus, 2)} CPUs, ${fmtMem(app.mem)} memory, ${fmtMem(app.disk)} disk${app.gpus ? `, ${app.gpus} GPUs` : ''} each</dd>
      ${app.cmd && html`<dt>Command</dt><dd><code>${app.cmd}</code></dd>`}
    </dl>
    <${ServiceActions} app=${app} status=${status} onDeleted=${() => navigate('/services')} />
    <${Tabs} tabs=${TABS} active=${tab} onSelect=${select} label=${'Service ' + id} />
    <${TabPanel} id=${tab}>
      ${tab === 'tasks' && html`<${TasksTab} app=${app} frameworkId=${m.frameworkId} />`}
      ${tab === 'configuration' && html`<${ConfigTab} app=${app} />`}
      ${tab === 'debug' && html`<${DebugTab} app=${app} item=${m.queue.get(id)} frameworkId=${m.frameworkId} />`}
    <//>
  </section>`;
}
