// Jobs (`#/jobs`): batch jobs in cluster mode. The batch dispatcher's submissions
// (`/service/batch/v1/submissions`, frameworks/batch/cluster/dispatcher.py: QUEUED, LAUNCHED,
// RUNNING, then FINISHED/FAILED/KILLED/ERROR/LOST) with a form to submit one, a kill action, a
// link to each driver task's page (its sandbox stdout/stderr: `#/tasks/<id>`) and to its job
// page; and the running drivers -- frameworks named `batch: <app>` on the master -- with the
// stage progress of their jobs (`/service/<framework name>/api/jobs`,
// frameworks/batch/cluster/webui.py).
// Refresh: the submissions are re-read when the master's live model (master.js useMaster) shows
// the dispatcher's tasks change; only the progress of running drivers is polled (every 2 s,
// while this page is open).
import { html, useEffect, useMemo, useState } from '../lib.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { Bar, ErrorText, Field, Table, fmtAgo, fmtNum } from '../ui.js';
import { useMaster, tasksOf } from '../master.js';

const DISPATCHER = 'batch-dispatcher';
const ENDED = new Set(['FINISHED', 'FAILED', 'KILLED', 'ERROR', 'LOST']);
const STATE_CLASS = { FINISHED: 'ok', RUNNING: 'Running', LAUNCHED: 'warn', QUEUED: 'Waiting' };
const PROGRESS_MS = 2000;

/** Is `fw` (a master.js Framework) a batch driver? (`batch: <app>`, label DCOS_PY_BATCH_APP) */
function isDriver(fw) {
  const labels = (fw.info && fw.info.labels && fw.info.labels.labels) || [];
  return fw.name.startsWith('batch: ') || labels.some((l) => l.key === 'DCOS_PY_BATCH_APP');
}

/** The gateway path of a framework's own pages (its webui_url, proxied by name). */
export function servicePath(name) {
  return `/service/${encodeURIComponent(name)}/`;
}

function duration(sub) {
  if (!sub.started) return '-';
  const end = sub.finished || Date.now() / 1000;
  const s = Math.max(0, end - sub.started);
  return s < 60 ? `${fmtNum(s, 1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function JobsPage() {
  const m = useMaster();
  const frameworks = [...m.frameworks.values()];
  const dispatcher = frameworks.find((f) => f.name === DISPATCHER && f.active);
  const drivers = frameworks.filter((f) => f.active && isDriver(f));
  // What the dispatcher's live tasks are doing: a change re-reads the submissions.
  const signature = useMemo(() => {
    if (!dispatcher) return m.connected ? 'none' : 'offline';
    return dispatcher.id + ':' + tasksOf('framework', dispatcher.id).map((t) => `${t.id}=${t.state}`).sort().join(',');
  }, [m.version, m.connected]);

  const [subs, setSubs] = useState(null);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let gone = false;
    const read = () => api.get('/service/batch/v1/submissions')
      .then((body) => { if (!gone) { setSubs(body.submissions || []); setError(null); } })
      .catch((e) => { if (!gone) setError(e); });
    read();
    // the dispatcher hears of a task's end just after the master: look once more a bit later
    const again = setTimeout(read, 1500);
    // without the master's stream, fall back to a slow re-read
    const slow = m.connected ? null : setInterval(read, 10000);
    return () => { gone = true; clearTimeout(again); if (slow) clearInterval(slow); };
  }, [signature, reload, m.connected]);

  return html`<h1>Jobs</h1>
    <p class="hint">Batch jobs in cluster mode: each submission runs its driver as a task of the
      ${dispatcher ? html` <strong>${dispatcher.name}</strong> framework` : ' batch dispatcher'}; the
      driver's executors run its stages.${!m.connected && m.error ? ` (Live updates paused: ${m.error})` : ''}</p>
    <${SubmitForm} onSubmitted=${() => setReload((x) => x + 1)} />
    <h2 id="submissions">Submissions</h2>
    ${error && html`<${ErrorText} error=${error} />
      ${(error.status === 404 || error.status === 503) && html`<p class="hint">No batch dispatcher is registered
        with the master: <code>dcos-py up</code> starts one, or install the batch-dispatcher package.</p>`}`}
    ${subs === null && !error && html`<p class="hint" role="status">Loading submissions…</p>`}
    ${subs && html`<${Submissions} subs=${subs} dispatcher=${dispatcher} model=${m}
      onChanged=${() => setReload((x) => x + 1)} />`}
    <h2 id="running">Running drivers</h2>
    ${drivers.length === 0 && html`<p class="hint">No driver is running.</p>`}
    ${drivers.map((fw) => html`<${DriverProgress} key=${fw.id} fw=${fw}
      sub=${subs && subs.find((s) => s.driver_framework_id === fw.id)} />`)}`;
}

function Submissions({ subs, dispatcher, model, onChanged }) {
  const [killing, setKilling] = useState({});
  const [killError, setKillError] = useState({});
  const kill = async (sub) => {
    setKilling((k) => ({ ...k, [sub.id]: true }));
    setKillError((k) => ({ ...k, [sub.id]: null }));
    try {
      await api.post(`/service/batch/v1/submissions/${encodeURIComponent(sub.id)}/kill`);
      onChanged();
    } catch (e) {
      setKillError((k) => ({ ...k, [sub.id]: e }));
    } finally {
      setKilling((k) => ({ ...k, [sub.id]: false }));
    }
  };
  const taskLink = (sub) => {
    if (sub.state === 'QUEUED' || (sub.state === 'KILLED' && !sub.agent_id)) return null;
    const task = model.tasks.get(sub.task_id) || model.completedTasks.get(sub.task_id);
    const query = {
      agent: (task && task.agentId) || sub.agent_id || '',
      framework: (task && task.frameworkId) || (dispatcher && dispatcher.id) || '',
    };
    return href('/tasks/' + encodeURIComponent(sub.task_id), query);
  };
  const columns = [
    { key: 'name', label: 'Name', render: (s) => html`<div>${s.name}</div><small class="hint">${s.id}</small>` },
    { key: 'state', label: 'State', render: (s) => html`<span class=${'status ' + (STATE_CLASS[s.state] || 'bad')}>${s.state}</span>
        ${s.message && html`<div><small class="hint">${s.message}</small></div>`}` },
    { key: 'submitted', label: 'Submitted', render: (s) => html`<span title=${new Date(s.submitted * 1000).toLocaleString()}>${fmtAgo(s.submitted)}</span>` },
    { key: 'duration', label: 'Duration', sortValue: (s) => (s.finished || Date.now() / 1000) - (s.started || 0), render: duration },
    { key: 'links', label: 'Driver', render: (s) => {
      const logs = taskLink(s);
      const fw = s.driver_framework_id && model.frameworks.get(s.driver_framework_id);
      return html`<div class="actions" style="margin:0">
        ${logs && html`<a href=${logs} aria-label=${'Driver task and logs of ' + s.name}>Logs</a>`}
        ${fw && fw.active && html`<a href=${servicePath(fw.name)} target="_blank" rel="noopener"
          aria-label=${'Job page of ' + s.name}>Job page</a>`}
      </div>`;
    } },
    { key: 'actions', label: 'Actions', render: (s) => (ENDED.has(s.state) ? null : html`<div>
        <button class="danger" disabled=${killing[s.id]} onClick=${() => kill(s)}
          aria-label=${'Kill ' + s.name}>${killing[s.id] ? 'Killing…' : 'Kill'}</button>
        <${ErrorText} error=${killError[s.id]} />
      </div>`) },
  ];
  return html`<${Table} label="Submissions" columns=${columns} rows=${subs} rowKey=${(s) => s.id}
    filterText=${(s) => `${s.name} ${s.id} ${s.state}`} pageSize=${25}
    empty="No submission yet: submit a job above, or run dcos-py batch submit." />`;
}

/** One running driver: its job page link and its jobs' stage progress (polled). */
function DriverProgress({ fw, sub }) {
  const [snap, setSnap] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let gone = false;
    const ctl = new AbortController();
    const read = () => api.get(servicePath(fw.name) + 'api/jobs', { signal: ctl.signal })
      .then((body) => { if (!gone) { setSnap(body); setError(null); } })
      .catch((e) => { if (!gone && e.name !== 'AbortError') setError(e); });
    read();
    const t = setInterval(read, PROGRESS_MS);
    return () => { gone = true; clearInterval(t); ctl.abort(); };
  }, [fw.name]);
  const jobs = (snap && snap.jobs) || [];
  return html`<section class="card driver" style="margin-bottom:12px" aria-label=${'Driver ' + fw.name}>
    <h3 style="margin:0 0 6px">${fw.name.replace(/^batch: /, '')}
      <small class="hint"> · ${sub ? sub.id : fw.id}</small></h3>
    <div class="actions" style="margin:0 0 8px">
      <a href=${servicePath(fw.name)} target="_blank" rel="noopener">Job page</a>
      <a href=${href('/frameworks')}>Frameworks</a>
    </div>
    <${ErrorText} error=${error} />
    ${snap && snap.waiting && html`<p class="field-error">Waiting for executors: ${snap.waiting}</p>`}
    ${snap && html`<p class="hint" style="margin:0 0 6px">${(snap.executors || []).length} executors · ${snap.tasks_finished} tasks finished · ${snap.task_attempts_failed} failed attempts · ${snap.pending_tasks} pending</p>`}
    ${snap && jobs.length === 0 && html`<p class="hint">No job yet.</p>`}
    ${jobs.slice(0, 5).map((job) => html`<div key=${job.job_id} style="margin:6px 0 10px">
      <div><strong>Job ${job.job_id}</strong> <span class=${'status ' + (job.status === 'failed' ? 'bad' : job.status === 'running' ? 'Running' : 'ok')}>${job.status}</span>
        <small class="hint"> ${job.succeeded}/${job.tasks} tasks · ${fmtNum(job.duration, 2)} s${job.description ? ' · ' + job.description : ''}</small></div>
      ${job.error && html`<pre class="error" style="white-space:pre-wrap">${job.error}</pre>`}
      ${(job.stages || []).map((s) => html`<div key=${s.stage_id + '.' + s.attempt}
          style="display:grid;grid-template-columns:90px 1fr;gap:8px;align-items:center;margin:3px 0">
        <span class="hint">stage ${s.stage_id}${s.attempt ? '.' + s.attempt : ''}</span>
        <${Bar} used=${s.succeeded} total=${s.total} label=${`stage ${s.stage_id} tasks done`} />
        ${(s.running > 0 || s.failed + s.fetch_failed > 0) && html`<span></span><small class="hint">${s.running} running${
          s.failed + s.fetch_failed ? ` · ${s.failed + s.fetch_failed} failed attempts` : ''}</small>`}
      </div>`)}
    </div>`)}
  </section>`;
}

// --- submitting ------------------------------------------------------------------------------

const SAMPLE = `# A small job: count words on the cluster's executors.
from operator import add
from frameworks.batch import SparkContext

sc = SparkContext(appName="word-count")  # master and conf come from the dispatcher
words = "a b a c b a".split()
print(sorted(sc.parallelize(words, 2).map(lambda w: (w, 1)).reduceByKey(add).collect()))
sc.stop()
`;

function SubmitForm({ onSubmitted }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [script, setScript] = useState('job.py');
  const [content, setContent] = useState(SAMPLE);
  const [args, setArgs] = useState('');
  const [cpus, setCpus] = useState('0.5');
  const [mem, setMem] = useState('512');
  const [executors, setExecutors] = useState('1');
  const [execMem, setExecMem] = useState('256m');
  const [conf, setConf] = useState('');
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');

  const loadFile = async (e) => {
    const f = e.target.files && e.target.files[0];
    if (!f) return;
    setScript(f.name);
    setContent(await f.text());
  };

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setDone('');
    const errs = {};
    if (!script.trim()) errs.script = 'required';
    if (!content.trim()) errs.content = 'required';
    const c = Number(cpus), m = Number(mem), x = Number(executors);
    if (!(c > 0)) errs.cpus = 'a number above 0';
    if (!(m >= 32)) errs.mem = 'at least 32 (MB)';
    if (executors.trim() && !(Number.isInteger(x) && x >= 1)) errs.executors = 'a whole number, 1 or more';
    const settings = {};
    conf.split('\n').map((l) => l.trim()).filter(Boolean).forEach((line) => {
      const at = line.indexOf('=');
      if (at <= 0) errs.conf = `expected KEY=VALUE, got "${line}"`;
      else settings[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    });
    setErrors(errs);
    if (Object.keys(errs).length) return;
    if (executors.trim()) settings['spark.executor.instances'] = String(x);
    if (execMem.trim()) settings['spark.executor.memory'] = execMem.trim();
    const body = {
      script: script.trim(), script_content: content, name: name.trim() || undefined,
      args: args.split('\n').map((a) => a.trim()).filter(Boolean), conf: settings,
      driver_cpus: c, driver_mem: m,
    };
    setBusy(true);
    try {
      const sub = await api.post('/service/batch/v1/submissions', body);
      setDone(`Submitted as ${sub.id}.`);
      onSubmitted(sub);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return html`<details class="card" open=${open} onToggle=${(e) => setOpen(e.target.open)}>
    <summary><strong>Submit a job</strong></summary>
    <form onSubmit=${submit} aria-label="Submit a job" noValidate style="margin-top:10px">
      <${Field} id="job-name" label="Name" hint="Shown in the list (default: the script's file name).">
        <input id="job-name" type="text" value=${name} onInput=${(e) => setName(e.target.value)} />
      </${Field}>
      <${Field} id="job-script" label="Script file name" error=${errors.script}>
        <input id="job-script" type="text" value=${script} onInput=${(e) => setScript(e.target.value)} />
      </${Field}>
      <${Field} id="job-file" label="Load the script from a file">
        <input id="job-file" type="file" accept=".py,text/x-python,text/plain" onChange=${loadFile} />
      </${Field}>
      <div class=${'field' + (errors.content ? ' has-error' : '')} style="max-width:none">
        <label for="job-content">Script</label>
        <textarea id="job-content" class="code" style="min-height:180px" spellcheck="false" value=${content}
          onInput=${(e) => setContent(e.target.value)}></textarea>
        ${errors.content && html`<small class="field-error" role="alert">${errors.content}</small>`}
      </div>
      <${Field} id="job-args" label="Arguments" hint="One per line.">
        <textarea id="job-args" rows="2" value=${args} onInput=${(e) => setArgs(e.target.value)}></textarea>
      </${Field}>
      <div style="display:flex;gap:12px;flex-wrap:wrap">
        <${Field} id="job-cpus" label="Driver CPUs" error=${errors.cpus}>
          <input id="job-cpus" type="text" inputmode="decimal" value=${cpus} onInput=${(e) => setCpus(e.target.value)} />
        </${Field}>
        <${Field} id="job-mem" label="Driver memory (MB)" error=${errors.mem}>
          <input id="job-mem" type="text" inputmode="numeric" value=${mem} onInput=${(e) => setMem(e.target.value)} />
        </${Field}>
        <${Field} id="job-executors" label="Executors" error=${errors.executors}>
          <input id="job-executors" type="text" inputmode="numeric" value=${executors} onInput=${(e) => setExecutors(e.target.value)} />
        </${Field}>
        <${Field} id="job-exec-mem" label="Executor memory">
          <input id="job-exec-mem" type="text" value=${execMem} onInput=${(e) => setExecMem(e.target.value)} />
        </${Field}>
      </div>
      <${Field} id="job-conf" label="More settings" error=${errors.conf} hint="spark.KEY=VALUE, one per line.">
        <textarea id="job-conf" rows="2" value=${conf} onInput=${(e) => setConf(e.target.value)}></textarea>
      </${Field}>
      <div class="actions">
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Submitting…' : 'Submit'}</button>
      </div>
      <${ErrorText} error=${error} />
      ${done && html`<p role="status">${done}</p>`}
    </form>
  </details>`;
}
