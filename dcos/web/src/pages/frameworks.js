// Frameworks (#/frameworks): the registered frameworks (active or waiting for their scheduler
// to fail over) and the completed ones, with their allocated resources and live task counts
// (from master.js' model), and a link to each one's web UI through the gateway
// (`/service/<name>/`). Selecting a framework shows its tasks below the list.
import { html, useMemo, useState } from '../lib.js';
import { useMaster, tasksOf, completedTasksOf } from '../master.js';
import { ErrorText, Table, TaskTable, fmtAgo, fmtMem, fmtNum, Loading } from '../ui.js';

function fwState(f) {
  if (f.completed) return html`<span class="status">Completed</span>`;
  if (f.active && f.connected) return html`<span class="status ok">Active</span>`;
  return html`<span class="status warn">Inactive${f.connected ? '' : ' (disconnected)'}</span>`;
}

function FrameworkTable({ rows, label, m, selected, onSelect }) {
  return html`<${Table} label=${label} rows=${rows} rowKey=${(f) => f.id} pageSize=${25}
    filterText=${(f) => `${f.name} ${f.id} ${f.roles.join(' ')}`}
    empty=${label.startsWith('Completed') ? 'No framework has completed.' : 'No framework is registered.'}
    columns=${[
      { key: 'name', label: 'Name', sortValue: (f) => f.name,
        render: (f) => html`<button type="button" class="link" aria-pressed=${selected === f.id}
            onClick=${() => onSelect(selected === f.id ? null : f.id)}
            aria-label=${`Show the tasks of ${f.name}`}>${f.name || f.id}</button>
          <br /><small class="muted">${f.id}</small>` },
      { key: 'state', label: 'State', sortValue: (f) => (f.active ? 0 : 1), render: fwState },
      { key: 'roles', label: 'Role', sortValue: (f) => f.roles.join(','), render: (f) => f.roles.join(', ') },
      { key: 'cpus', label: 'CPU', sortValue: (f) => f.allocated.cpus, render: (f) => fmtNum(f.allocated.cpus, 2) },
      { key: 'mem', label: 'Memory', sortValue: (f) => f.allocated.mem, render: (f) => fmtMem(f.allocated.mem) },
      { key: 'disk', label: 'Disk', sortValue: (f) => f.allocated.disk, render: (f) => fmtMem(f.allocated.disk) },
      { key: 'tasks', label: 'Tasks', sortValue: (f) => (m.tasksByFramework.get(f.id) || new Set()).size,
        render: (f) => (m.tasksByFramework.get(f.id) || new Set()).size },
      { key: 'registered', label: 'Registered', sortValue: (f) => f.registeredTime,
        render: (f) => (f.registeredTime ? fmtAgo(f.registeredTime) : '-') },
      { key: 'ui', label: 'Web UI', sortValue: (f) => f.name,
        render: (f) => (f.completed || !f.name ? '-' : html`<a href=${`/service/${encodeURIComponent(f.name)}/`}
          target="_blank" rel="noopener" aria-label=${`Open the web UI of ${f.name}`}>Open</a>`) },
    ]} />`;
}

export function FrameworksPage() {
  const m = useMaster();
  const [selected, setSelected] = useState(null);
  const active = useMemo(() => [...m.frameworks.values()], [m.version]);
  const completed = useMemo(() => [...m.completedFrameworks.values()], [m.version]);
  const fw = selected && (m.frameworks.get(selected) || m.completedFrameworks.get(selected));
  const tasks = useMemo(
    () => (selected ? [...tasksOf('framework', selected), ...completedTasksOf('framework', selected)] : []),
    [m.version, selected],
  );
  return html`<h1>Frameworks</h1>
    <${ErrorText} error=${m.error} />
    ${!m.connected && !active.length ? html`<${Loading} what="the frameworks" />` : html`
      <h2>Registered</h2>
      <${FrameworkTable} rows=${active} label="Registered frameworks" m=${m} selected=${selected} onSelect=${setSelected} />
      <h2>Completed</h2>
      <${FrameworkTable} rows=${completed} label="Completed frameworks" m=${m} selected=${selected} onSelect=${setSelected} />`}
    ${fw && html`<section aria-labelledby="fw-tasks">
      <h2 id="fw-tasks">Tasks of ${fw.name || fw.id}</h2>
      <${TaskTable} key=${fw.id} tasks=${tasks} agents=${m.agents} label=${'Tasks of ' + (fw.name || fw.id)} />
    </section>`}`;
}
