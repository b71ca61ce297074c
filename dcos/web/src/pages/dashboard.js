// Dashboard (#/dashboard): CPU, memory, disk and GPU allocated vs total over time (uPlot
// charts of master.js' `series`, sampled every 2 s from the live model), task counts by state,
// and the services that need attention (unhealthy, deploying, delayed or waiting for
// resources) from marathon.js' live model.
import { html, useEffect, useMemo, useRef } from '../lib.js';
import uPlot from 'uplot';
import { useMaster, useSeries, SCALARS } from '../master.js';
import { useMarathon, STATUS, statusClass } from '../marathon.js';
import { href } from '../router.js';
import { ErrorText, Table, fmtMem, fmtNum, fmtState, Loading } from '../ui.js';

const TITLES = { cpus: 'CPU', mem: 'Memory', disk: 'Disk', gpus: 'GPU' };
const UNITS = { cpus: (x) => `${fmtNum(x, 2)} CPU`, mem: fmtMem, disk: fmtMem, gpus: (x) => `${fmtNum(x)} GPU` };
const ATTENTION = new Set([STATUS.UNHEALTHY, STATUS.DEPLOYING, STATUS.DELAYED, STATUS.WAITING]);

/** One uPlot chart of `series[name]` (allocated vs total), resized with its box. */
function UsageChart({ name }) {
  const series = useSeries();
  const box = useRef(null);
  const plot = useRef(null);
  const fmt = UNITS[name];
  const gib = name === 'mem' || name === 'disk'; // plotted in GiB: round ticks
  const show = (v) => (v == null ? '-' : fmt(gib ? v * 1024 : v));
  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(180, el.clientWidth),
      height: 160,
      legend: { show: true, live: false },
      cursor: { show: true, drag: { x: false, y: false } },
      scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{ values: (u, ticks) => {
        const span = ticks.length > 1 ? ticks[ticks.length - 1] - ticks[0] : 0;
        const opts = span < 600 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' };
        return ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], opts));
      } }, { size: 64, values: (u, ticks) => ticks.map((t) => (gib ? `${fmtNum(t)} GiB` : fmtNum(t))) }],
      series: [
        {},
        { label: 'Allocated', stroke: '#2a5bd7', fill: 'rgba(42,91,215,0.12)', width: 2, points: { show: false }, value: (u, v) => show(v) },
        { label: 'Total', stroke: '#5b6475', dash: [6, 4], width: 1.5, points: { show: false }, value: (u, v) => show(v) },
      ],
    };
    plot.current = new uPlot(opts, [[], [], []], el);
    const ro = typeof ResizeObserver === 'function'
      ? new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(180, el.clientWidth), height: 160 }))
      : null;
    if (ro) ro.observe(el);
    return () => {
      if (ro) ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [name]);
  useEffect(() => {
    if (!plot.current) return;
    const k = gib ? 1 / 1024 : 1;
    const scale = (xs) => (k === 1 ? xs.slice() : xs.map((x) => x * k));
    plot.current.setData([series.t.slice(), scale(series[name].allocated), scale(series[name].total)]);
  }, [series.t.length, series.t[series.t.length - 1]]);
  return html`<div class="chart" ref=${box} role="img"
    aria-label=${`${TITLES[name]} allocated and total over time`}></div>`;
}

function UsageCard({ name, m }) {
  const total = m.total[name];
  const used = m.allocated[name];
  const pct = total > 0 ? Math.round((100 * used) / total) : 0;
  return html`<section class="card" aria-labelledby=${'usage-' + name}>
    <h2 id=${'usage-' + name}>${TITLES[name]}</h2>
    <p class="big"><span data-testid=${'allocated-' + name} data-value=${used}>${UNITS[name](used)}</span>${' of '}<span
      data-testid=${'total-' + name} data-value=${total}>${UNITS[name](total)}</span>${' '}<span class="muted">allocated (${pct}%)</span></p>
    <${UsageChart} name=${name} />
  </section>`;
}

function TaskCounts({ m }) {
  const rows = useMemo(
    () => Object.entries(m.counts).filter(([, n]) => n > 0).map(([state, n]) => ({ state, n }))
      .sort((a, b) => a.state.localeCompare(b.state)),
    [m.version],
  );
  return html`<section class="card" aria-labelledby="task-counts">
    <h2 id="task-counts">Tasks</h2>
    ${rows.length === 0
      ? html`<p class="muted">No tasks yet.</p>`
      : html`<dl class="kv counts">${rows.map((r) => html`
          <dt><span class=${'status ' + r.state}>${fmtState(r.state)}</span></dt>
          <dd data-testid=${'count-' + r.state}>${r.n}</dd>`)}</dl>`}
    <p class="muted small">${m.agents.size} agents, ${m.frameworks.size} frameworks</p>
  </section>`;
}

function Attention() {
  const mm = useMarathon();
  const rows = useMemo(() => (mm.apps || [])
    .map((app) => ({ app, status: mm.status.get(app.id) }))
    .filter((r) => ATTENTION.has(r.status)), [mm.apps, mm.status]);
  return html`<section aria-labelledby="attention">
    <h2 id="attention">Services that need attention</h2>
    <${ErrorText} error=${mm.error} />
    ${mm.loading && !mm.apps.length ? html`<${Loading} what="services" />` : html`<${Table}
      label="Services that need attention" rows=${rows} rowKey=${(r) => r.app.id} pageSize=${10}
      empty="Every service is running as asked."
      columns=${[
        { key: 'id', label: 'Service', sortValue: (r) => r.app.id,
          render: (r) => html`<a href=${href('/services/detail/' + encodeURIComponent(r.app.id))}>${r.app.id}</a>` },
        { key: 'status', label: 'Status', sortValue: (r) => r.status,
          render: (r) => html`<span class=${statusClass(r.status)}>${r.status}</span>` },
        { key: 'tasks', label: 'Running', sortValue: (r) => r.app.tasksRunning || 0,
          render: (r) => `${r.app.tasksRunning || 0} of ${r.app.instances}` },
      ]} />`}
  </section>`;
}

export function DashboardPage() {
  const m = useMaster();
  return html`<h1>Dashboard</h1>
    <${ErrorText} error=${m.error} />
    ${!m.connected && !m.error && html`<${Loading} what="the cluster's state" />`}
    <div class="cards usage">
      ${SCALARS.map((k) => html`<${UsageCard} key=${k} name=${k} m=${m} />`)}
    </div>
    <div class="cards">
      <${TaskCounts} m=${m} />
      <section class="card" aria-labelledby="nodes-sum">
        <h2 id="nodes-sum">Nodes</h2>
        <p class="big">${[...m.agents.values()].filter((a) => a.active).length} active agents</p>
        <p><a href=${href('/nodes')}>See the nodes</a> · <a href=${href('/frameworks')}>the frameworks</a></p>
      </section>
    </div>
    <${Attention} />`;
}
