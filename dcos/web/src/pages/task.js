// Task (#/tasks/<task id>?agent=&framework=): the task's state and status history (live, from
// master.js' model, with the agent's record of earlier states), its sandbox file browser, and
// a live stdout/stderr tail.
//
// Where the sandbox is: the agent's `/state` (through the gateway: `/agent/<agent id>/state`)
// lists each framework's executors (live and completed) with their `directory`; the task's
// executor is the one whose tasks name it (a command task's executor id is the task id). A
// task of a default executor (task groups) has its sandbox under `<directory>/tasks/<task id>`.
// Files come from the agent's files API (`/agent/<id>/files/browse?path=` and
// `/files/read?path=&offset=&length=`), which takes the absolute sandbox path.
//
// The tail reads from the last offset every TAIL_MS while the page is open (at once again
// while a read comes back full), and stops when the page unmounts or the tab switches.
import { html, useEffect, useMemo, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { useMaster, findTask, findFramework, TERMINAL } from '../master.js';
import { href } from '../router.js';
import { ErrorText, Loading, StateText, Table, Tabs, TabPanel, fmtRes, fmtTime, fmtAgo } from '../ui.js';

const TAIL_MS = 500;
const READ_LEN = 65536; // the agent reads at most 64 KiB at a time
const FIRST_TAIL = 65536; // how much of an existing log to show at first
const KEEP_CHARS = 512 * 1024; // the most of a log kept on the page

const agentPath = (agentId, tail) => `/agent/${encodeURIComponent(agentId)}${tail}`;

/** The executor record of `taskId` in an agent's /state (live first), and its framework. */
export function findExecutor(state, taskId, frameworkId) {
  const fws = [...(state.frameworks || []), ...(state.completed_frameworks || [])];
  for (const live of [true, false]) {
    for (const fw of fws) {
      if (frameworkId && fw.id !== frameworkId) continue;
      for (const ex of live ? fw.executors || [] : fw.completed_executors || []) {
        const tasks = [...(ex.tasks || []), ...(ex.queued_tasks || []), ...(ex.completed_tasks || [])];
        const task = tasks.find((t) => t.id === taskId);
        if (task || ex.id === taskId) return { executor: ex, task, framework: fw };
      }
    }
  }
  return null;
}

function useSandbox(agentId, taskId, frameworkId, state) {
  const [found, setFound] = useState({ loading: true });
  useEffect(() => {
    if (!agentId) return undefined;
    let live = true;
    (async () => {
      try {
        const st = await api.get(agentPath(agentId, '/state'));
        const hit = findExecutor(st, taskId, frameworkId);
        if (!hit || !hit.executor.directory) {
          if (live) setFound({ loading: false, missing: true });
          return;
        }
        let dir = hit.executor.directory;
        if (hit.executor.type === 'DEFAULT') {
          const sub = `${dir}/tasks/${taskId}`;
          try {
            await api.get(agentPath(agentId, '/files/browse'), { query: { path: sub } });
            dir = sub;
          } catch { /* the executor's own sandbox then */ }
        }
        if (live) setFound({ loading: false, dir, agentTask: hit.task || null });
      } catch (e) {
        if (live) setFound({ loading: false, error: e });
      }
    })();
    return () => { live = false; };
  }, [agentId, taskId, frameworkId, state]);
  return found;
}

function History({ task, agentTask }) {
  const rows = useMemo(() => {
    const seen = new Map();
    for (const s of (agentTask && agentTask.statuses) || []) seen.set(`${s.state}@${s.timestamp}`, { ...s });
    for (const s of (task && task.statuses) || []) {
      const k = `${s.state}@${s.timestamp}`;
      seen.set(k, { ...(seen.get(k) || {}), ...s });
    }
    // the same state twice (master and agent stamp it a moment apart): keep the one with more words
    const out = [];
    for (const s of [...seen.values()].sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0))) {
      const prev = out[out.length - 1];
      if (prev && prev.state === s.state && Math.abs((prev.timestamp || 0) - (s.timestamp || 0)) < 5) {
        out[out.length - 1] = { ...prev, ...s, message: s.message || prev.message };
      } else out.push(s);
    }
    return out.map((s, i) => ({ ...s, i }));
  }, [task && task.statuses.length, agentTask]);
  return html`<${Table} label="Status history" rows=${rows} rowKey=${(s) => s.i} pageSize=${20}
    empty="No status yet." initialSort=${{ key: 'time', dir: -1 }}
    columns=${[
      { key: 'state', label: 'State', render: (s) => html`<${StateText} state=${s.state} />` },
      { key: 'time', label: 'Time', sortValue: (s) => s.timestamp || 0, render: (s) => fmtTime(s.timestamp) },
      { key: 'message', label: 'Message', render: (s) => [s.message, s.reason && `(${s.reason})`,
        s.healthy === true ? 'healthy' : s.healthy === false ? 'unhealthy' : ''].filter(Boolean).join(' ') || '-' },
    ]} />`;
}

/** The sandbox file browser: directories open in place, files can be viewed or downloaded. */
function FileBrowser({ agentId, root, onView }) {
  const [path, setPath] = useState(root);
  const [entries, setEntries] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  useEffect(() => setPath(root), [root]);
  useEffect(() => {
    let live = true;
    setError(null);
    api.get(agentPath(agentId, '/files/browse'), { query: { path } })
      .then((xs) => live && setEntries(xs))
      .catch((e) => live && (setError(e), setEntries([])));
    return () => { live = false; };
  }, [agentId, path, tick]);
  const rel = path.startsWith(root) ? path.slice(root.length) || '/' : path;
  const crumbs = rel.split('/').filter(Boolean);
  const rows = (entries || []).map((e) => ({ ...e, name: e.path.split('/').pop(), dir: e.mode.startsWith('d') }));
  return html`<section aria-labelledby="files-h">
    <h2 id="files-h">Sandbox files</h2>
    <nav class="crumbs" aria-label="Folder">
      <button type="button" class="link" onClick=${() => setPath(root)}>sandbox</button>
      ${crumbs.map((c, i) => html` / <button type="button" class="link"
        onClick=${() => setPath(root + '/' + crumbs.slice(0, i + 1).join('/'))}>${c}</button>`)}
      <button type="button" class="small" onClick=${() => setTick(tick + 1)}>Refresh</button>
    </nav>
    <${ErrorText} error=${error} />
    ${entries === null ? html`<${Loading} what="files" />` : html`<${Table} label="Files" rows=${rows}
      rowKey=${(e) => e.path} pageSize=${50} empty="This folder is empty."
      filterText=${(e) => e.name}
      columns=${[
        { key: 'name', label: 'Name', sortValue: (e) => (e.dir ? '0' : '1') + e.name,
          render: (e) => (e.dir
            ? html`<button type="button" class="link" onClick=${() => setPath(e.path)}>${e.name}/</button>`
            : html`<button type="button" class="link" onClick=${() => onView(e.path)}
                aria-label=${`View ${e.name}`}>${e.name}</button>`) },
        { key: 'size', label: 'Size', sortValue: (e) => e.size, render: (e) => (e.dir ? '-' : `${e.size} B`) },
        { key: 'mtime', label: 'Modified', sortValue: (e) => e.mtime, render: (e) => fmtAgo(e.mtime) },
        { key: 'mode', label: 'Mode', render: (e) => html`<code>${e.mode}</code>` },
        { key: 'dl', label: 'Download', render: (e) => (e.dir ? '' : html`<a
          href=${agentPath(agentId, '/files/download?path=' + encodeURIComponent(e.path))}
          download=${e.name} aria-label=${`Download ${e.name}`}>Download</a>`) },
      ]} />`}
  </section>`;
}

/**
 * A live tail of one sandbox file: the last FIRST_TAIL bytes, then whatever is appended,
 * read from the last offset every TAIL_MS until unmounted. Offsets are bytes: the agent never
 * cuts a UTF-8 character, so the bytes of the text received are the bytes read.
 */
export function LogTail({ agentId, path, follow = true }) {
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [waiting, setWaiting] = useState(true);
  const pre = useRef(null);
  const stick = useRef(true);
  useEffect(() => {
    let stopped = false;
    let timer = 0;
    let offset = -1;
    let buf = '';
    let trimFirst = false;
    const enc = new TextEncoder();
    const url = agentPath(agentId, '/files/read');
    const step = async () => {
      let again = false;
      try {
        if (offset < 0) {
          const end = await api.get(url, { query: { path, offset: -1 } });
          if (stopped) return;
          offset = Math.max(0, end.offset - FIRST_TAIL);
          trimFirst = offset > 0;
        }
        const got = await api.get(url, { query: { path, offset, length: READ_LEN } });
        if (stopped) return;
        setError(null);
        setWaiting(false);
        if (got.data) {
          let data = got.data;
          const bytes = enc.encode(got.data).length;
          offset += bytes;
          if (trimFirst) { // started inside the file: from the first whole line on
            trimFirst = false;
            data = data.slice(data.indexOf('\n') + 1);
          }
          buf += data;
          if (buf.length > KEEP_CHARS) buf = buf.slice(buf.length - KEEP_CHARS);
          setText(buf);
          again = bytes >= READ_LEN - 4; // a full read: more is waiting, read on at once
        }
      } catch (e) {
        if (stopped) return;
        if (e.status === 404) setWaiting(true);
        else setError(e);
      }
      if (!stopped && follow) timer = setTimeout(step, again ? 0 : TAIL_MS);
    };
    step();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [agentId, path, follow]);
  useEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  const onScroll = (e) => {
    const el = e.currentTarget;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
  };
  const name = path.split('/').pop();
  return html`<div>
    <${ErrorText} error=${error} />
    ${waiting && !text && !error && html`<p class="muted" role="status">No ${name} yet: waiting for it...</p>`}
    <pre class="log" ref=${pre} onScroll=${onScroll} tabindex="0" role="log" aria-live="off"
      aria-label=${`${name} of the task, following new lines`} data-testid=${'log-' + name}>${text}</pre>
  </div>`;
}

export function TaskPage({ params, query }) {
  const m = useMaster();
  const id = params.id;
  const task = findTask(id);
  const agentId = query.agent || (task && task.agentId) || '';
  const frameworkId = query.framework || (task && task.frameworkId) || '';
  const state = task ? task.state : '';
  // read the agent's state again when the task changes state (its sandbox appears at launch)
  const sandbox = useSandbox(agentId, id, frameworkId, state);
  const [tab, setTab] = useState('stdout');
  const [viewing, setViewing] = useState(null);
  const fw = frameworkId ? findFramework(frameworkId) : null;
  const agent = agentId ? m.agents.get(agentId) : null;
  const logs = ['stdout', 'stderr'];
  const tabs = [...logs.map((n) => ({ id: n, label: n })), ...(viewing ? [{ id: 'file', label: viewing.split('/').pop() }] : [])];
  const logPath = tab === 'file' ? viewing : sandbox.dir && `${sandbox.dir}/${tab}`;
  const view = (p) => {
    setViewing(p);
    setTab('file');
  };
  return html`<p class="crumbs"><a href=${href('/frameworks')}>Frameworks</a>${fw ? ` / ${fw.name}` : ''} / task</p>
    <h1>${(task && task.name) || id}</h1>
    <${ErrorText} error=${m.error} />
    ${!task && (m.connected
      ? html`<p class="muted">The master does not list task <code>${id}</code> now; showing what its agent keeps.</p>`
      : html`<${Loading} what="the task" />`)}
    <div class="cards">
      <section class="card" aria-labelledby="task-info">
        <h2 id="task-info">Task</h2>
        <dl class="kv">
          <dt>ID</dt><dd><code>${id}</code></dd>
          <dt>State</dt><dd data-testid="task-state"><${StateText} state=${state || (sandbox.agentTask && sandbox.agentTask.state)} />
            ${task && TERMINAL.has(task.state) ? ' (completed)' : ''}</dd>
          <dt>Framework</dt><dd>${fw ? fw.name : frameworkId || '-'}</dd>
          <dt>Node</dt><dd>${agentId ? html`<a href=${href('/nodes/' + encodeURIComponent(agentId))}>${agent ? `${agent.hostname}:${agent.port}` : agentId}</a>` : '-'}</dd>
          <dt>Resources</dt><dd>${task ? fmtRes(task.resources) : '-'}</dd>
          ${sandbox.dir && html`<dt>Sandbox</dt><dd><code class="wrap">${sandbox.dir}</code></dd>`}
        </dl>
      </section>
      <section class="card wide" aria-labelledby="task-history">
        <h2 id="task-history">Status history</h2>
        <${History} task=${task} agentTask=${sandbox.agentTask} />
      </section>
    </div>
    <h2 id="logs-h">Logs</h2>
    ${!agentId ? html`<p class="muted">Which agent runs this task is not known yet.</p>`
      : sandbox.loading ? html`<${Loading} what="the sandbox" />`
      : sandbox.error ? html`<${ErrorText} error=${sandbox.error} />`
      : sandbox.missing ? html`<p class="muted">The agent has no sandbox for this task (yet).</p>`
      : html`<${Tabs} label="Task files" tabs=${tabs} active=${tab} onSelect=${setTab} />
        <${TabPanel} id=${tab}><${LogTail} key=${logPath} agentId=${agentId} path=${logPath} /><//>
        <${FileBrowser} agentId=${agentId} root=${sandbox.dir} onView=${view} />`}`;
}
