// Shared components and formatters. Pages import what they need:
//   Table     a paginated, filterable table (long lists stay fast: only one page is rendered)
//   Bar       a labelled usage bar (used of total)
//   ErrorText an API error in plain words, announced to screen readers (role=alert)
//   Tabs      keyboard-navigable tabs
//   Field     a labelled form control with its error next to it
//   fmtMem, fmtNum, fmtTime, fmtAgo
import { html, useMemo, useState } from './lib.js';
import { errorText } from './api.js';

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

/** Tabs: `tabs` = [{id, label}], `active` id, `onSelect(id)`. Arrow keys move between tabs. */
export function Tabs({ tabs, active, onSelect }) {
  const onKey = (e, i) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    const next = tabs[(i + d + tabs.length) % tabs.length];
    onSelect(next.id);
    e.preventDefault();
  };
  return html`<div class="tabs" role="tablist">
    ${tabs.map((t, i) => html`<button role="tab" id=${'tab-' + t.id}
        aria-selected=${t.id === active} tabindex=${t.id === active ? 0 : -1}
        class=${t.id === active ? 'active' : ''} onClick=${() => onSelect(t.id)}
        onKeyDown=${(e) => onKey(e, i)}>${t.label}</button>`)}
  </div>`;
}

/**
 * A paginated table. `columns` = [{key, label, render?(row), sortValue?(row)}], `rows` an
 * array, `rowKey(row)` a unique key, `filterText(row)` the text the filter box searches
 * (no filter box without it), `pageSize` rows per page, `empty` what to show with no rows.
 */
export function Table({ columns, rows, rowKey, filterText, pageSize = 50, empty = 'Nothing here yet.', label }) {
  const [page, setPage] = useState(0);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState(null);
  const shown = useMemo(() => {
    let xs = rows;
    if (filter && filterText) {
      const f = filter.toLowerCase();
      xs = xs.filter((r) => filterText(r).toLowerCase().includes(f));
    }
    if (sort) {
      const col = columns.find((c) => c.key === sort.key);
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
        <button class="th" onClick=${() => toggleSort(c.key)}>${c.label}</button></th>`)}</tr></thead>
      <tbody>
        ${slice.length === 0 && html`<tr><td colspan=${columns.length} class="empty">${empty}</td></tr>`}
        ${slice.map((r) => html`<tr key=${rowKey(r)}>${columns.map((c) =>
          html`<td data-label=${c.label}>${c.render ? c.render(r) : r[c.key]}</td>`)}</tr>`)}
      </tbody>
    </table>
    ${pages > 1 && html`<nav class="pager" aria-label="Pages">
      <button disabled=${p === 0} onClick=${() => setPage(p - 1)}>Previous</button>
      <span>Page ${p + 1} of ${pages} (${shown.length} rows)</span>
      <button disabled=${p >= pages - 1} onClick=${() => setPage(p + 1)}>Next</button>
    </nav>`}
  </div>`;
}
