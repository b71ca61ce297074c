// Nodes (#/nodes): the agents with per-node resource bars, attributes, state and task counts
// (live, from master.js' model), and the masters with the leader marked (the leading master's
// v1 GET_MASTER through the gateway, and the masters the gateway knows from /gateway/health).
// Node (#/nodes/<agent id>): one agent, its resources, attributes and tasks.
import { html, useEffect, useMemo, useState } from '../lib.js';
import { api } from '../api.js';
import { useMaster, completedTasksOf, tasksOf, findFramework } from '../master.js';
import { href } from '../router.js';
import { Bar, ErrorText, Loading, Table, TaskTable, fmtAgo, fmtMem, fmtNum, fmtTime } from '../ui.js';

const cpu = (x) => fmtNum(x, 2);

function attrText(attrs) {
  return Object.entries(attrs || {}).map(([k, v]) => `${k}:${v}`).join(', ');
}

export function ResourceBars({ agent, compact = false }) {
  const r = agent.resources;
  const u = agent.allocated || {};
  return html`<div class=${compact ? 'bars compact' : 'bars'}>
    <${Bar} label="CPU" used=${u.cpus || 0} total=${r.cpus || 0} format=${cpu} />
    <${Bar} label="Memory" used=${u.mem || 0} total=${r.mem || 0} format=${fmtMem} />
    <${Bar} label="Disk" used=${u.disk || 0} total=${r.disk || 0} format=${fmtMem} />
    ${r.gpus > 0 && html`<${Bar} label="GPU" used=${u.gpus || 0} total=${r.gpus} />`}
  </div>`;
}

function useLeader() {
  const [state, setState] = useState({ leader: null, health: null, error: null });
  useEffect(() => {
    let live = true;
    Promise.all([
      api.post('/mesos/api/v1', { type: 'GET_MASTER' }),
      api.get('/gateway/health').catch(() => null),
    ]).then(([answer, health]) => {
      const gm = answer.get_master || {};
      const info = gm.master_info || {};
      const leader = { pid: info.pid, hostname: info.hostname, version: info.version,
        start_time: gm.start_time, elected_time: gm.elected_time };
      if (live) setState({ leader, health, error: null });
    }).catch((e) => live && setState({ leader: null, health: null, error: e }));
    return () => { live = false; };
  }, []);
  return state;
}

function hostPort(pid) {
  return (pid || '').replace(/^[^@]*@/, '');
}

function Masters() {
  const { leader, health, error } = useLeader();
  if (error) return html`<${ErrorText} error=${error} />`;
  if (!leader) return html`<${Loading} what="the masters" />`;
  const lead = hostPort(leader.pid);
  const others = ((health && health.master && health.master.masters) || [])
    .map((u) => u.replace(/^https?:\/\//, '').replace(/\/.*$/, ''))
    .filter((hp) => hp !== lead);
  const rows = [
    { addr: lead, leader: true, hostname: leader.hostname, version: leader.version,
      started: leader.start_time, elected: leader.elected_time },
    ...others.map((addr) => ({ addr, leader: false })),
  ];
  return html`<${Table} label="Masters" rows=${rows} rowKey=${(r) => r.addr} columns=${[
    { key: 'addr', label: 'Address', render: (r) => html`${r.addr}${r.leader
      ? html` <strong class="badge leader" aria-label="leader">Leader</strong>` : ''}` },
    { key: 'role', label: 'Role', render: (r) => (r.leader ? 'Leading' : 'Standby') },
    { key: 'hostname', label: 'Host', render: (r) => r.hostname || '-' },
    { key: 'version', label: 'Version', render: (r) => r.version || '-' },
    { key: 'elected', label: 'Elected', render: (r) => (r.elected ? fmtAgo(r.elected) : '-') },
  ]} />`;
}

export function NodesPage() {
  const m = useMaster();
  const agents = useMemo(() => [...m.agents.values()], [m.version]);
  return html`<h1>Nodes</h1>
    <${ErrorText} error=${m.error} />
    <h2>Agents</h2>
    ${!m.connected && !agents.length ? html`<${Loading} what="the agents" />` : html`<${Table}
      label="Agents" rows=${agents} rowKey=${(a) => a.id} pageSize=${25}
      filterText=${(a) => `${a.hostname} ${a.id} ${attrText(a.attributes)}`}
      empty="No agent is registered."
      columns=${[
        { key: 'hostname', label: 'Agent', sortValue: (a) => a.hostname + ':' + a.port,
          render: (a) => html`<a href=${href('/nodes/' + encodeURIComponent(a.id))}>${a.hostname}:${a.port}</a>
            <br /><small class="muted">${a.id}</small>` },
        { key: 'active', label: 'State', sortValue: (a) => (a.active ? 0 : 1),
          render: (a) => html`<span class=${'status ' + (a.active ? 'ok' : 'bad')}>${a.active ? 'Active' : 'Inactive'}</span>` },
        { key: 'resources', label: 'Allocated of total', sortValue: (a) => (a.allocated.cpus || 0) / (a.resources.cpus || 1),
          render: (a) => html`<${ResourceBars} agent=${a} compact />` },
        { key: 'tasks', label: 'Tasks', sortValue: (a) => (m.tasksByAgent.get(a.id) || new Set()).size,
          render: (a) => (m.tasksByAgent.get(a.id) || new Set()).size },
        { key: 'attributes', label: 'Attributes', sortValue: (a) => attrText(a.attributes),
          render: (a) => attrText(a.attributes) || '-' },
      ]} />`}
    <h2>Masters</h2>
    <${Masters} />`;
}

export function NodePage({ params }) {
  const m = useMaster();
  const agent = m.agents.get(params.id);
  const tasks = useMemo(() => [...tasksOf('agent', params.id), ...completedTasksOf('agent', params.id)],
    [m.version, params.id]);
  const fwName = (id) => (findFramework(id) || {}).name || id;
  if (!agent) {
    return html`<h1>Node</h1>
      ${m.connected ? html`<p role="alert">No agent <code>${params.id}</code> is registered now.
        <a href=${href('/nodes')}>All nodes</a></p>` : html`<${Loading} what="the agent" />`}
      ${tasks.length > 0 && html`<h2>Its tasks</h2><${TaskTable} tasks=${tasks} frameworkName=${fwName} />`}`;
  }
  return html`<p class="crumbs"><a href=${href('/nodes')}>Nodes</a> / ${agent.hostname}:${agent.port}</p>
    <h1>${agent.hostname}:${agent.port}</h1>
    <div class="cards">
      <section class="card" aria-labelledby="node-res">
        <h2 id="node-res">Resources</h2>
        <${ResourceBars} agent=${agent} />
        ${agent.resources.ports && html`<p class="muted small">Ports ${agent.resources.ports}</p>`}
      </section>
      <section class="card" aria-labelledby="node-info">
        <h2 id="node-info">Agent</h2>
        <dl class="kv">
          <dt>ID</dt><dd><code>${agent.id}</code></dd>
          <dt>State</dt><dd>${agent.active ? 'Active' : 'Inactive'}</dd>
          <dt>Address</dt><dd>${agent.pid}</dd>
          <dt>Version</dt><dd>${agent.version || '-'}</dd>
          <dt>Registered</dt><dd>${fmtTime(agent.registeredTime)}</dd>
          <dt>Attributes</dt><dd>${attrText(agent.attributes) || '-'}</dd>
        </dl>
      </section>
    </div>
    <h2>Tasks</h2>
    <${TaskTable} tasks=${tasks} frameworkName=${fwName} label=${'Tasks on ' + agent.hostname} />`;
}
