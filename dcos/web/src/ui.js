// Shared components and formatters. Pages import what they need:
//   Table     a paginated, filterable table (long lists stay fast: only one page is rendered)
//   Bar       a labelled usage bar (used of total)
//   ErrorText an API error in plain words, announced to screen readers (role=alert)
//   Tabs      keyboard-navigable tabs
//   Field     a labelled form control with its error next to it
//   StateText a task state in colour (TASK_RUNNING -> "Running")
//   Loading   a polite "Loading..." line
//   TaskTable master.js tasks in a Table (links to #/tasks/<id>); taskHref(task)
//   fmtMem, fmtNum, fmtTime, fmtAgo, fmtState, fmtRes
import { html, useMemo, useState } from './lib.js';
import { errorText } from './api.js';
import { href } from './router.js';

export function fmtNum(x, digits = 1) {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

/** Megabytes in a readable unit (`fmtMem(2048)` -> `2 GiB`). */
export function fmtMem(mb) {
  if (mb === undefined || mb === null) return '-';
  if (mb >= 1024 * 1024) return `${fmtNum(mb / 1024 / 1024)} TiB`;
  if (mb >= 1024) return `${fmtNum(mb / 1024)} GiB`;
  return `${fmtNum(mb)} MiB`;
}

/** A timestamp (seconds since the epoch, or an ISO string) as local date and time. */
export function fmtTime(t) {
  if (t === undefined || t === null || t === '') return '-';
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** How long ago a timestamp was, in words (`3 min ago`). */
export function fmtAgo(t) {
  const d = typeof t === 'number' ? t * 1000 : Date.parse(t);
  if (!d) return '-';
  const s = Math.max(0, (Date.now() - d) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A task state for people (`TASK_RUNNING` -> `Running`). */
export function fmtState(state) {
  if (!state) return '-';
  const s = state.replace(/^TASK_/, '').toLowerCase().replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Resources {cpus, mem, disk, gpus} in one short line. */
export function fmtRes(r) {
  if (!r) return '-';
  const parts = [`${fmtNum(r.cpus || 0, 2)} CPU`, fmtMem(r.mem || 0)];
  if (r.disk) parts.push(`${fmtMem(r.disk)} disk`);
  if (r.gpus) parts.push(`${fmtNum(r.gpus)} GPU`);
  return parts.join(', ');
}

export function StateText({ state }) {
  return html`<span class=${'status ' + (state || '')}>${fmtState(state)}</span>`;
}

export function Loading({ what = '' }) {
  return html`<p class="muted" role="status">Loading${what ? ' ' + what : ''}...</p>`;
}

export function ErrorText({ error, id }) {
  if (!error) return null;
  return html`<p class="error" role="alert" id=${id}>${errorText(error)}</p>`;
}

/** A usage bar: `used` of `total` with a text label (also for screen readers). */
export function Bar({ used = 0, total = 0, label = '', format = fmtNum }) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const text = `${label ? label + ': ' : ''}${format(used)} of ${format(total)}`;
  return html`<div class="bar" role="meter" aria-label=${text} aria-valuemin="0"
      aria-valuemax=${total} aria-valuenow=${used} title=${text}>
    <div class="bar-fill" style=${`width:${pct}%`}></div>
    <span class="bar-text">${text}</span>
  </div>`;
}

/** A labelled control: `children` is the input (give it `id`); `error` shown below it. */
export function Field({ label, id, error, hint, children }) {
  return html`<div class=${'field' + (error ? ' has-error' : '')}>
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<small class="hint">${hint}</small>`}
    ${error && html`<small class="field-error" role="alert" id=${id + '-error'}>${error}</small>`}
  </div>`;
}

/**
 * Tabs: `tabs` = [{id, label}], `active` id, `onSelect(id)`. Arrow keys (and Home/End) move
 * between tabs. Wrap the active panel in `<${TabPanel} id=${active}>` (role, labelling).
 */
export function Tabs({ tabs, active, onSelect, label }) {
  const onKey = (e, i) => {
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j < 0) return;
    e.preventDefault();
    onSelect(tabs[j].id);
    setTimeout(() => document.getElementById('tab-' + tabs[j].id)?.focus(), 0);
  };
  return html`<div class="tabs" role="tablist" aria-label=${label}>
    ${tabs.map((t, i) => html`<button type="button" role="tab" id=${'tab-' + t.id}
        aria-controls=${'panel-' + t.id}
        aria-selected=${t.id === active} tabindex=${t.id === active ? 0 : -1}
        class=${t.id === active ? 'active' : ''} onClick=${() => onSelect(t.id)}
        onKeyDown=${(e) => onKey(e, i)}>${t.label}</button>`)}
  </div>`;
}

export function TabPanel({ id, children }) {
  return html`<div role="tabpanel" id=${'panel-' + id} aria-labelledby=${'tab-' + id}>${children}</div>`;
}

/**
 * A paginated table. `columns` = [{key, label, render?(row), sortValue?(row)}], `rows` an
 * array, `rowKey(row)` a unique key, `filterText(row)` the text the filter box searches
 * (no filter box without it), `pageSize` rows per page, `empty` what to show with no rows,
 * `initialSort` {key, dir: 1 | -1}. Only one page of rows is ever rendered.
 */
export function Table({ columns, rows, rowKey, filterText, pageSize = 50, empty = 'Nothing here yet.', label,
  initialSort = null }) {
  const [page, setPage] = useState(0);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState(initialSort);
  const shown = useMemo(() => {
    let xs = rows;
    if (filter && filterText) {
      const f = filter.toLowerCase();
      xs = xs.filter((r) => filterText(r).toLowerCase().includes(f));
    }
    const col = sort && columns.find((c) => c.key === sort.key);
    if (col) {
      const v = col.sortValue || ((r) => r[col.key]);
      xs = [...xs].sort((a, b) => {
        const x = v(a), y = v(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
      });
    }
    return xs;
  }, [rows, filter, sort]);
  const pages = Math.max(1, Math.ceil(shown.length / pageSize));
  const p = Math.min(page, pages - 1);
  const slice = shown.slice(p * pageSize, (p + 1) * pageSize);
  const toggleSort = (key) =>
    setSort(sort && sort.key === key ? (sort.dir === 1 ? { key, dir: -1 } : null) : { key, dir: 1 });
  return html`<div class="table-wrap">
    ${filterText && html`<input class="filter" type="search" placeholder="Filter"
        aria-label=${'Filter ' + (label || 'rows')} value=${filter}
        onInput=${(e) => { setFilter(e.target.value); setPage(0); }} />`}
    <table aria-label=${label}>
      <thead><tr>${columns.map((c) => html`<th scope="col"
          aria-sort=${sort && sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
        <button type="button" class="th" onClick=${() => toggleSort(c.key)}>${c.label}</button></th>`)}</tr></thead>
      <tbody>
        ${slice.length === 0 && html`<tr><td colspan=${columns.length} class="empty">${empty}</td></tr>`}
        ${slice.map((r) => html`<tr key=${rowKey(r)}>${columns.map((c) =>
          html`<td data-label=${c.label}><div class="cell">${c.render ? c.render(r) : r[c.key]}</div></td>`)}</tr>`)}
      </tbody>
    </table>
    ${pages > 1 && html`<nav class="pager" aria-label="Pages">
      <button type="button" disabled=${p === 0} onClick=${() => setPage(p - 1)}>Previous</button>
      <span aria-live="polite">Page ${p + 1} of ${pages} (${shown.length} rows)</span>
      <button type="button" disabled=${p >= pages - 1} onClick=${() => setPage(p + 1)}>Next</button>
    </nav>`}
  </div>`;
}

/** The in-app link of a task page (`#/tasks/<id>?agent=&framework=`). */
export function taskHref(task) {
  const q = {};
  if (task.agentId) q.agent = task.agentId;
  if (task.frameworkId) q.framework = task.frameworkId;
  return href('/tasks/' + encodeURIComponent(task.id), q);
}

/**
 * Tasks (master.js Task objects) in a paginated table: name/id linking to the task page,
 * state, resources, and optionally the agent (`agents`: Map id -> Agent) and the framework
 * (`frameworks`: id -> name function).
 */
export function TaskTable({ tasks, label = 'Tasks', agents, frameworkName, pageSize = 25, empty = 'No tasks.' }) {
  const columns = [
    { key: 'id', label: 'Task', sortValue: (t) => t.id,
      render: (t) => html`<a href=${taskHref(t)}>${t.name || t.id}</a>${t.name && t.name !== t.id
        ? html`<br /><small class="muted">${t.id}</small>` : ''}` },
    { key: 'state', label: 'State', render: (t) => html`<${StateText} state=${t.state} />` },
    { key: 'cpus', label: 'CPU', sortValue: (t) => t.resources.cpus, render: (t) => fmtNum(t.resources.cpus, 2) },
    { key: 'mem', label: 'Memory', sortValue: (t) => t.resources.mem, render: (t) => fmtMem(t.resources.mem) },
    { key: 'updated', label: 'Updated', sortValue: (t) => lastTime(t),
      render: (t) => (lastTime(t) ? fmtAgo(lastTime(t)) : '-') },
  ];
  if (agents) {
    columns.splice(2, 0, { key: 'agent', label: 'Node', sortValue: (t) => agentName(agents, t.agentId),
      render: (t) => html`<a href=${href('/nodes/' + encodeURIComponent(t.agentId))}>${agentName(agents, t.agentId)}</a>` });
  }
  if (frameworkName) {
    columns.splice(2, 0, { key: 'framework', label: 'Framework', sortValue: (t) => frameworkName(t.frameworkId),
      render: (t) => frameworkName(t.frameworkId) });
  }
  return html`<${Table} label=${label} rows=${tasks} rowKey=${(t) => t.id} pageSize=${pageSize} empty=${empty}
    filterText=${(t) => `${t.id} ${t.name} ${t.state}`} columns=${columns}
    initialSort=${{ key: 'updated', dir: -1 }} />`;
}

function lastTime(t) {
  const s = t.statuses[t.statuses.length - 1];
  return s ? s.timestamp || 0 : 0;
}

function agentName(agents, id) {
  const a = agents.get(id);
  return a ? a.hostname + (a.port ? ':' + a.port : '') : id;
}
