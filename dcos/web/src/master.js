// The live model of the master, fed by the Mesos v1 operator SUBSCRIBE stream through the
// gateway (`POST /mesos/api/v1 {"type":"SUBSCRIBE"}`, chunked RecordIO `<len>\n<json>`).
// One subscription for the whole app: the first `useMaster()` starts it; every component
// that calls `useMaster()` re-renders (at most once per animation frame) when it changes.
// When the stream ends (a master failover, the gateway restarted) it reconnects with backoff
// and rebuilds the model from the new SUBSCRIBED snapshot. No HTTP polling.
//
// The model (`useMaster()` returns it; the Maps are mutated in place: memoize on `version`):
//   version     number, bumped on every change (use it in useMemo deps)
//   connected   true while the stream is open and SUBSCRIBED has arrived
//   error       why the stream is down, in plain words ('' when connected)
//   since       Date.now() of the last SUBSCRIBED
//   agents      Map<agentId, Agent>
//   frameworks  Map<frameworkId, Framework>        registered (active or not)
//   completedFrameworks Map<frameworkId, Framework> removed ones
//   tasks       Map<taskId, Task>                  live (not terminal; TASK_UNREACHABLE here too)
//   completedTasks Map<taskId, Task>               terminal, oldest evicted past MAX_COMPLETED
//   tasksByAgent, tasksByFramework  Map<id, Set<taskId>>  live task ids
//   counts      {TASK_RUNNING: n, ...}            live + completed tasks by state
//   total       {cpus, mem, disk, gpus}           of the active agents
//   allocated   {cpus, mem, disk, gpus}           used by live tasks (STAGING..KILLING)
//   series      {t: [unix s], cpus: {total: [], allocated: []}, mem: .., disk: .., gpus: ..}
//               sampled from the model every SAMPLE_MS (the dashboard's charts); a sample does
//               not bump `version`: `useSeries()` re-renders its caller at each sample
// Agent:     {id, hostname, port, pid, active, version, attributes: {name: value},
//             resources: Res, allocated: Res (from its live tasks), registeredTime (s), raw}
// Framework: {id, name, active, connected, recovered, webuiUrl, roles, principal, user,
//             hostname, registeredTime (s), allocated: Res, completed (bool), info, raw}
// Task:      {id, name, frameworkId, agentId, executorId, state, role, resources: Res,
//             statuses: [{state, timestamp (s), message, reason, source, healthy}] (oldest
//             first; those before the page subscribed: only the latest), labels, raw}
// Res:       {cpus, mem, disk, gpus, ports: 'a-b,c-d'}  (mem and disk in MB)
import { useEffect, useState } from './lib.js';
import { authHeaders, needLogin, onLogin } from './auth.js';

export const TERMINAL = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED',
  'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);
/** States whose tasks hold resources on their agent. */
export const ACTIVE = new Set(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING']);
export const SCALARS = ['cpus', 'mem', 'disk', 'gpus'];
export const MAX_COMPLETED = 10000;
const MAX_STATUSES = 100;
const SAMPLE_MS = 2000;
const MAX_SAMPLES = 1800; // one hour at 2 s
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 5000];
const STABLE_MS = 10000;

// -- RecordIO ------------------------------------------------------------------------------

/**
 * Decodes a RecordIO byte stream (`<length in bytes>\n<record>`...) pushed in arbitrary
 * chunks: a chunk may end inside a length, inside a record, or inside a UTF-8 character.
 * Chunks are joined only when a record needs them (a 10 MB snapshot in 1,000 chunks is
 * copied once, not 1,000 times).
 */
export class RecordIODecoder {
  constructor() {
    this.chunks = [];
    this.size = 0;
    this.need = -1;
    this.text = new TextDecoder();
  }

  /** Add a Uint8Array; returns the records (strings) it completes. Throws on a bad header. */
  push(chunk) {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const out = [];
    for (;;) {
      if (this.need < 0) {
        const nl = this.newline();
        if (nl < 0) {
          if (this.size > 20) throw new Error('bad RecordIO framing: no record length');
          break;
        }
        const head = this.take(nl + 1);
        const digits = String.fromCharCode(...head.subarray(0, nl)).trim();
        if (!/^\d+$/.test(digits)) throw new Error(`bad RecordIO record length '${digits}'`);
        this.need = Number(digits);
      }
      if (this.size < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      out.push(this.text.decode(body));
    }
    return out;
  }

  newline() {
    let i = 0;
    for (const c of this.chunks) {
      const j = c.indexOf(10);
      if (j >= 0) return i + j;
      i += c.length;
      if (i > 20) return -1;
    }
    return -1;
  }

  take(n) {
    const first = this.chunks[0];
    let out;
    if (n === 0) {
      out = new Uint8Array(0);
    } else if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    return out;
  }
}

// -- converting v1 JSON ----------------------------------------------------------------------

const val = (x) => (x && typeof x === 'object' ? x.value : x);
const secs = (t) => (t && typeof t === 'object' && 'nanoseconds' in t ? t.nanoseconds / 1e9 : t || 0);

export function emptyRes() {
  return { cpus: 0, mem: 0, disk: 0, gpus: 0 };
}

/** A v1 Resource list as {cpus, mem, disk, gpus, ports}. */
export function parseResources(list) {
  const r = emptyRes();
  const ports = [];
  for (const x of list || []) {
    if (x.type === 'SCALAR' || (x.scalar && x.type === undefined)) {
      r[x.name] = (r[x.name] || 0) + (x.scalar ? x.scalar.value : 0);
    } else if (x.type === 'RANGES' && x.ranges) {
      for (const rg of x.ranges.range || []) ports.push(rg.begin === rg.end ? `${rg.begin}` : `${rg.begin}-${rg.end}`);
    }
  }
  if (ports.length) r.ports = ports.join(',');
  return r;
}

function addRes(into, r, sign = 1) {
  for (const k of SCALARS) into[k] = round(into[k] + sign * (r[k] || 0));
}

const round = (x) => Math.round(x * 1e6) / 1e6;

function attributes(list) {
  const out = {};
  for (const a of list || []) {
    if (a.type === 'SCALAR' || a.scalar) out[a.name] = a.scalar.value;
    else if (a.type === 'TEXT' || a.text) out[a.name] = a.text.value;
    else if (a.ranges) out[a.name] = (a.ranges.range || []).map((x) => `${x.begin}-${x.end}`).join(',');
    else if (a.set) out[a.name] = (a.set.item || []).join(',');
  }
  return out;
}

function toAgent(a) {
  const info = a.agent_info || {};
  return {
    id: val(info.id),
    hostname: info.hostname || '',
    port: info.port,
    pid: a.pid || '',
    active: a.active !== false,
    version: a.version || '',
    attributes: attributes(info.attributes),
    resources: parseResources(a.total_resources || info.resources),
    allocated: emptyRes(),
    registeredTime: secs(a.registered_time),
    raw: a,
  };
}

function toFramework(f, completed = false) {
  const info = f.framework_info || f;
  return {
    id: val(info.id),
    name: info.name || '',
    active: completed ? false : f.active !== false,
    connected: completed ? false : f.connected !== false,
    recovered: !!f.recovered,
    webuiUrl: info.webui_url || '',
    roles: info.roles || (info.role ? [info.role] : ['*']),
    principal: info.principal || '',
    user: info.user || '',
    hostname: info.hostname || '',
    registeredTime: secs(f.registered_time),
    allocated: emptyRes(),
    completed,
    info,
    raw: f,
  };
}

function toStatus(s) {
  return {
    state: s.state,
    timestamp: s.timestamp,
    message: s.message || '',
    reason: s.reason || '',
    source: s.source || '',
    healthy: s.healthy,
  };
}

function toTask(t) {
  return {
    id: val(t.task_id),
    name: t.name || '',
    frameworkId: val(t.framework_id),
    agentId: val(t.agent_id),
    executorId: val(t.executor_id) || '',
    state: t.state,
    role: t.role || '',
    resources: parseResources(t.resources),
    statuses: (t.statuses || []).map(toStatus),
    labels: t.labels ? t.labels.labels || [] : [],
    raw: t,
  };
}

// -- the store --------------------------------------------------------------------------------

function freshModel() {
  return {
    version: 0,
    connected: false,
    error: '',
    since: 0,
    agents: new Map(),
    frameworks: new Map(),
    completedFrameworks: new Map(),
    tasks: new Map(),
    completedTasks: new Map(),
    tasksByAgent: new Map(),
    tasksByFramework: new Map(),
    counts: {},
    total: emptyRes(),
    allocated: emptyRes(),
    allocByAgent: new Map(),
    allocByFramework: new Map(),
    series: { t: [], cpus: { total: [], allocated: [] }, mem: { total: [], allocated: [] },
      disk: { total: [], allocated: [] }, gpus: { total: [], allocated: [] } },
  };
}

let model = freshModel();
const listeners = new Set();
const seriesListeners = new Set();
let frame = 0;
let started = false;

function changed() {
  model.version++;
  if (frame) return;
  const run = () => {
    frame = 0;
    for (const fn of listeners) fn(model.version);
  };
  frame = typeof requestAnimationFrame === 'function' && !document.hidden
    ? requestAnimationFrame(run) : setTimeout(run, 50);
}

function bucket(map, key) {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  return s;
}

function allocOf(map, key) {
  let r = map.get(key);
  if (!r) map.set(key, (r = emptyRes()));
  return r;
}

function holds(task) {
  return ACTIVE.has(task.state);
}

function count(state, d) {
  model.counts[state] = (model.counts[state] || 0) + d;
}

/** Add a task (from the snapshot or TASK_ADDED): O(1). */
function addTask(task) {
  const old = model.tasks.get(task.id) || model.completedTasks.get(task.id);
  if (old) removeTask(old);
  count(task.state, 1);
  if (TERMINAL.has(task.state)) {
    model.completedTasks.set(task.id, task);
    evictCompleted();
    return;
  }
  model.tasks.set(task.id, task);
  bucket(model.tasksByAgent, task.agentId).add(task.id);
  bucket(model.tasksByFramework, task.frameworkId).add(task.id);
  if (holds(task)) hold(task, 1);
}

function removeTask(task) {
  count(task.state, -1);
  if (model.tasks.delete(task.id)) {
    if (holds(task)) hold(task, -1);
    model.tasksByAgent.get(task.agentId)?.delete(task.id);
    model.tasksByFramework.get(task.frameworkId)?.delete(task.id);
  } else {
    model.completedTasks.delete(task.id);
  }
}

function hold(task, sign) {
  addRes(model.allocated, task.resources, sign);
  addRes(allocOf(model.allocByAgent, task.agentId), task.resources, sign);
  addRes(allocOf(model.allocByFramework, task.frameworkId), task.resources, sign);
}

function evictCompleted() {
  while (model.completedTasks.size > MAX_COMPLETED) {
    const first = model.completedTasks.values().next().value;
    model.completedTasks.delete(first.id);
    count(first.state, -1);
  }
}

/** TASK_UPDATED: a new state (and status) for a known task: O(1). */
function updateTask(u) {
  const status = u.status || {};
  const id = val(status.task_id) || val(u.task_id);
  const state = u.state || status.state;
  let task = model.tasks.get(id) || model.completedTasks.get(id);
  if (!task) {
    // an update for a task this model never saw (it started before a lost event): keep it
    task = toTask({ task_id: { value: id }, framework_id: u.framework_id, agent_id: status.agent_id,
      executor_id: status.executor_id, state, statuses: [] });
    task.statuses.push(toStatus({ ...status, state }));
    addTask(task);
    return;
  }
  task.statuses.push(toStatus({ ...status, state }));
  if (task.statuses.length > MAX_STATUSES) task.statuses.splice(0, task.statuses.length - MAX_STATUSES);
  if (task.state === state) return;
  const wasLive = model.tasks.has(id);
  const before = holds(task);
  count(task.state, -1);
  count(state, 1);
  if (wasLive && before) hold(task, -1);
  task.state = state;
  if (wasLive && TERMINAL.has(state)) {
    model.tasks.delete(id);
    model.tasksByAgent.get(task.agentId)?.delete(id);
    model.tasksByFramework.get(task.frameworkId)?.delete(id);
    model.completedTasks.set(id, task);
    evictCompleted();
  } else if (wasLive && holds(task)) {
    hold(task, 1);
  }
}

function addAgent(agent) {
  const old = model.agents.get(agent.id);
  if (old && old.active) addRes(model.total, old.resources, -1);
  agent.allocated = allocOf(model.allocByAgent, agent.id);
  model.agents.set(agent.id, agent);
  if (agent.active) addRes(model.total, agent.resources, 1);
}

function removeAgent(id) {
  const old = model.agents.get(id);
  if (!old) return;
  if (old.active) addRes(model.total, old.resources, -1);
  model.agents.delete(id);
}

function addFramework(fw) {
  fw.allocated = allocOf(model.allocByFramework, fw.id);
  if (fw.completed) {
    model.frameworks.delete(fw.id);
    model.completedFrameworks.set(fw.id, fw);
  } else {
    model.completedFrameworks.delete(fw.id);
    model.frameworks.set(fw.id, fw);
  }
}

/** Build the model from a GET_STATE JSON (SUBSCRIBED's `get_state`). */
export function loadState(state) {
  const keep = model.series;
  const version = model.version;
  model = freshModel();
  model.series = keep;
  model.version = version;
  const fws = state.get_frameworks || {};
  for (const f of fws.frameworks || []) addFramework(toFramework(f));
  for (const f of fws.completed_frameworks || []) addFramework(toFramework(f, true));
  for (const a of (state.get_agents || {}).agents || []) addAgent(toAgent(a));
  const ts = state.get_tasks || {};
  for (const key of ['tasks', 'unreachable_tasks', 'completed_tasks']) {
    for (const t of ts[key] || []) addTask(toTask(t));
  }
}

/** Apply one event (a parsed RecordIO record) to the model. */
export function applyEvent(ev) {
  switch (ev.type) {
    case 'SUBSCRIBED':
      loadState(ev.subscribed.get_state || {});
      model.connected = true;
      model.error = '';
      model.since = Date.now();
      heartbeat = (ev.subscribed.heartbeat_interval_seconds || 15) * 1000;
      sample();
      break;
    case 'TASK_ADDED':
      addTask(toTask(ev.task_added.task));
      break;
    case 'TASK_UPDATED':
      updateTask(ev.task_updated);
      break;
    case 'AGENT_ADDED':
      addAgent(toAgent(ev.agent_added.agent));
      break;
    case 'AGENT_REMOVED':
      removeAgent(val(ev.agent_removed.agent_id));
      break;
    case 'FRAMEWORK_ADDED':
      addFramework(toFramework(ev.framework_added.framework));
      break;
    case 'FRAMEWORK_UPDATED':
      addFramework(toFramework(ev.framework_updated.framework));
      break;
    case 'FRAMEWORK_REMOVED': {
      const info = ev.framework_removed.framework_info || {};
      const old = model.frameworks.get(val(info.id));
      const fw = toFramework(old ? { ...old.raw, framework_info: info } : { framework_info: info }, true);
      addFramework(fw);
      break;
    }
    case 'HEARTBEAT':
      return;
    default:
      return;
  }
  changed();
}

/** Record one sample of total vs allocated into `series` (every SAMPLE_MS while open). */
export function sample() {
  const s = model.series;
  queueMicrotask(() => {
    for (const fn of seriesListeners) fn(`${s.t.length}:${s.t[s.t.length - 1]}`);
  });
  s.t.push(Date.now() / 1000);
  for (const k of SCALARS) {
    s[k].total.push(model.total[k]);
    s[k].allocated.push(model.allocated[k]);
  }
  if (s.t.length > MAX_SAMPLES) {
    s.t.shift();
    for (const k of SCALARS) {
      s[k].total.shift();
      s[k].allocated.shift();
    }
  }
}

// -- the connection ---------------------------------------------------------------------------

let heartbeat = 15000;
let attempt = 0;

async function connectOnce() {
  const ctl = new AbortController();
  const opened = Date.now();
  let last = opened;
  const watchdog = setInterval(() => {
    if (Date.now() - last > 3 * heartbeat) ctl.abort();
  }, 1000);
  try {
    const resp = await fetch('/mesos/api/v1', {
      method: 'POST',
      body: JSON.stringify({ type: 'SUBSCRIBE' }),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      signal: ctl.signal,
    });
    if (!resp.ok) {
      if (resp.status === 401) needLogin();
      const text = (await resp.text()).trim();
      let msg = text;
      try {
        msg = JSON.parse(text).message || text;
      } catch { /* plain text */ }
      throw new Error(`the master answered ${resp.status}${msg ? ': ' + msg : ''}`);
    }
    const reader = resp.body.getReader();
    const dec = new RecordIODecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      last = Date.now();
      for (const rec of dec.push(value)) applyEvent(JSON.parse(rec));
      // a stream that stayed up a while: the next loss starts the backoff afresh (one that
      // ends right after SUBSCRIBED, again and again, keeps backing off)
      if (model.connected && attempt && Date.now() - opened > STABLE_MS) attempt = 0;
    }
    throw new Error('the master closed the event stream');
  } finally {
    clearInterval(watchdog);
  }
}

async function run() {
  for (;;) {
    try {
      await connectOnce();
    } catch (e) {
      const why = e.name === 'AbortError' ? 'no heartbeat from the master' : e.message;
      model.connected = false;
      model.error = `Not connected to the master (${why}); reconnecting...`;
      changed();
    }
    const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt++;
    // a login (after a 401) ends the wait at once
    await new Promise((r) => {
      const stop = onLogin(() => {
        attempt = 0;
        r();
      });
      setTimeout(() => {
        stop();
        r();
      }, wait);
    });
  }
}

/** Start the shared subscription (once); `useMaster` calls it. */
export function startMaster() {
  if (started) return;
  started = true;
  setInterval(() => {
    if (model.connected) {
      sample();
    }
  }, SAMPLE_MS);
  run();
}

/** The current model (no re-render on change: for event handlers). */
export function masterModel() {
  return model;
}

/** Call `fn(version)` after changes (batched per frame); returns the unsubscribe function. */
export function subscribeMaster(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * A hook: the resource time series ({t, cpus: {total, allocated}, ...}, see the top); the
 * caller re-renders at every sample (every SAMPLE_MS), not at every event.
 */
export function useSeries() {
  startMaster();
  const [, setTick] = useState('');
  useEffect(() => {
    seriesListeners.add(setTick);
    return () => seriesListeners.delete(setTick);
  }, []);
  return model.series;
}

/** A hook: the live master model; the caller re-renders when it changes. */
export function useMaster() {
  startMaster();
  const [, setVersion] = useState(model.version);
  useEffect(() => subscribeMaster(setVersion), []);
  return model;
}

// -- helpers for pages ------------------------------------------------------------------------

/** A task by id, live or completed (undefined when the model does not know it). */
export function findTask(id) {
  return model.tasks.get(id) || model.completedTasks.get(id);
}

/** The live tasks of an agent or framework (arrays, made on call). */
export function tasksOf(kind, id) {
  const ids = (kind === 'agent' ? model.tasksByAgent : model.tasksByFramework).get(id);
  return ids ? [...ids].map((t) => model.tasks.get(t)).filter(Boolean) : [];
}

/** The completed tasks of an agent or framework (a scan: call it from a memo). */
export function completedTasksOf(kind, id) {
  const key = kind === 'agent' ? 'agentId' : 'frameworkId';
  const out = [];
  for (const t of model.completedTasks.values()) if (t[key] === id) out.push(t);
  return out;
}

/** A framework by id, registered or completed. */
export function findFramework(id) {
  return model.frameworks.get(id) || model.completedFrameworks.get(id);
}
