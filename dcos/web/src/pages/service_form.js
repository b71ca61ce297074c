// Create a service (`#/services/new`) or edit one (`#/services/edit/<encoded id>`), from a form
// or from a JSON editor holding the app definition. Switching between the two keeps the values:
// the form edits the fields it shows and keeps every other key of the definition (`base`).
// Marathon's 422 `details` ({path, errors}) are shown next to the field their path names
// (`/cpus` -> CPUs, `/portDefinitions(0)/port` -> Ports ...); the rest above the buttons.
// Linked from pages/services.js (Create service, Edit) and pages/service.js.
import { html, useEffect, useState } from '../lib.js';
import { api, errorText } from '../api.js';
import { navigate, href } from '../router.js';
import { ErrorText, Field, Tabs } from '../ui.js';
import { MARATHON, appUrl, marathon } from '../marathon.js';

// Keys Marathon fills in itself: dropped from the definition shown in the editor.
const READ_ONLY = [
  'tasks', 'deployments', 'tasksRunning', 'tasksStaged', 'tasksHealthy', 'tasksUnhealthy',
  'lastTaskFailure', 'taskStats', 'readinessCheckResults', 'version', 'versionInfo',
];
const HEALTH_PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'COMMAND', 'MESOS_HTTP', 'MESOS_HTTPS', 'MESOS_TCP'];
// Short fields side by side (a grid that folds on narrow screens).
const ROW = 'display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:0 12px;max-width:760px';
const NEW_APP = { id: '', cmd: '', instances: 1, cpus: 0.1, mem: 32, disk: 0, gpus: 0, portDefinitions: [] };

/** The definition without the keys Marathon computes (tasks, counts, version ...). */
export function definition(app) {
  const out = JSON.parse(JSON.stringify(app));
  for (const k of READ_ONLY) delete out[k];
  return out;
}

const str = (v) => (v === undefined || v === null ? '' : String(v));

/** The form's fields (all strings) from an app definition. */
export function fromApp(app) {
  const hc = (app.healthChecks || [])[0] || {};
  const ports = app.portDefinitions || (app.ports || []).map((port) => ({ port }));
  return {
    id: str(app.id), cmd: str(app.cmd), instances: str(app.instances), cpus: str(app.cpus),
    mem: str(app.mem), disk: str(app.disk), gpus: str(app.gpus),
    ports: ports.map((p) => p.port).join(', '),
    env: Object.entries(app.env || {}).filter(([, v]) => typeof v === 'string')
      .map(([k, v]) => `${k}=${v}`).join('\n'),
    hcProtocol: str(hc.protocol), hcPath: str(hc.path), hcCommand: str(hc.command && hc.command.value),
    hcPortIndex: str(hc.portIndex), hcGrace: str(hc.gracePeriodSeconds),
    hcInterval: str(hc.intervalSeconds), hcMaxFailures: str(hc.maxConsecutiveFailures),
    constraints: (app.constraints || []).map((c) => c.join(':')).join('\n'),
  };
}

/** A number typed in a field (left as typed if it is not one: Marathon says what is wrong). */
function num(s) {
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isNaN(n) ? t : n;
}

function setOrDrop(obj, key, value) {
  if (value === undefined) delete obj[key];
  else obj[key] = value;
}

/**
 * The app definition of the form: `base` (the definition being edited) with the form's fields
 * written over it. Throws {field, message} for a field that cannot be turned into JSON.
 */
export function toApp(form, base) {
  const app = JSON.parse(JSON.stringify(base || {}));
  app.id = form.id.trim();
  setOrDrop(app, 'cmd', form.cmd.trim() || undefined);
  for (const k of ['instances', 'cpus', 'mem', 'disk', 'gpus']) setOrDrop(app, k, num(form[k]));
  const old = app.portDefinitions || [];
  delete app.ports;
  app.portDefinitions = form.ports.split(/[\s,]+/).filter(Boolean)
    .map((p, i) => ({ protocol: 'tcp', ...(old[i] || {}), port: num(p) }));
  const env = Object.fromEntries(Object.entries(app.env || {}).filter(([, v]) => typeof v !== 'string'));
  for (const line of form.env.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at < 1) throw { field: 'env', message: `"${line}" is not NAME=value` };
    env[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  app.env = env;
  const rest = (app.healthChecks || []).slice(1);
  if (form.hcProtocol) {
    const hc = { ...((app.healthChecks || [])[0] || {}), protocol: form.hcProtocol };
    delete hc.path;
    delete hc.command;
    if (form.hcProtocol === 'COMMAND') hc.command = { value: form.hcCommand };
    else {
      if (form.hcProtocol.includes('HTTP')) hc.path = form.hcPath || '/';
      setOrDrop(hc, 'portIndex', num(form.hcPortIndex) ?? (hc.port === undefined ? 0 : undefined));
    }
    setOrDrop(hc, 'gracePeriodSeconds', num(form.hcGrace));
    setOrDrop(hc, 'intervalSeconds', num(form.hcInterval));
    setOrDrop(hc, 'maxConsecutiveFailures', num(form.hcMaxFailures));
    app.healthChecks = [hc, ...rest];
  } else {
    app.healthChecks = rest;
  }
  app.constraints = form.constraints.split('\n').map((l) => l.trim()).filter(Boolean)
    .map((l) => l.split(':').map((x) => x.trim()));
  return app;
}

/** The form field a Marathon error path names (`/portDefinitions(0)/port` -> `ports`). */
export function fieldOf(path) {
  const top = (path || '').replace(/^\//, '').split(/[/(]/)[0];
  const map = {
    id: 'id', cmd: 'cmd', args: 'cmd', instances: 'instances', cpus: 'cpus', mem: 'mem',
    disk: 'disk', gpus: 'gpus', portDefinitions: 'ports', ports: 'ports', requirePorts: 'ports',
    env: 'env', healthChecks: 'health', constraints: 'constraints',
  };
  return map[top] || null;
}

/** {field: message} and the errors no field shows, from an ApiError's details. */
function splitErrors(error) {
  const byField = {};
  const other = [];
  for (const d of (error && error.details) || []) {
    const f = fieldOf(d.path);
    const text = d.errors.join('; ');
    if (f) byField[f] = byField[f] ? `${byField[f]}; ${text}` : text;
    else other.push(`${d.path || '/'}: ${text}`);
  }
  return { byField, other };
}

function Input({ form, set, name, label, type = 'text', error, hint, ...rest }) {
  const id = 'svc-' + name;
  return html`<${Field} label=${label} id=${id} error=${error} hint=${hint}>
    <input id=${id} name=${name} type=${type} value=${form[name]} aria-invalid=${error ? 'true' : undefined}
      aria-describedby=${error ? id + '-error' : undefined}
      onInput=${(e) => set(name, e.target.value)} ...${rest} />
  <//>`;
}

function TextArea({ form, set, name, label, error, hint, rows = 3 }) {
  const id = 'svc-' + name;
  return html`<${Field} label=${label} id=${id} error=${error} hint=${hint}>
    <textarea id=${id} name=${name} rows=${rows} value=${form[name]} aria-invalid=${error ? 'true' : undefined}
      onInput=${(e) => set(name, e.target.value)}></textarea>
  <//>`;
}

function FormFields({ form, set, errors, editing }) {
  const e = errors;
  const p = { form, set };
  return html`<div class="service-fields">
    <${Input} ...${p} name="id" label="ID" error=${e.id} readOnly=${editing}
      hint="A path such as /web or /shop/api (a group is the part before the last /)" />
    <${TextArea} ...${p} name="cmd" label="Command" error=${e.cmd} rows="2"
      hint="Run by /bin/sh in the task's sandbox, e.g. python3 -m http.server $PORT0" />
    <div class="row" style=${ROW}>
      <${Input} ...${p} name="instances" label="Instances" type="number" error=${e.instances} />
      <${Input} ...${p} name="cpus" label="CPUs" type="number" step="any" error=${e.cpus} />
      <${Input} ...${p} name="mem" label="Memory (MiB)" type="number" step="any" error=${e.mem} />
      <${Input} ...${p} name="disk" label="Disk (MiB)" type="number" step="any" error=${e.disk} />
      <${Input} ...${p} name="gpus" label="GPUs" type="number" error=${e.gpus} />
    </div>
    <${Input} ...${p} name="ports" label="Ports" error=${e.ports}
      hint="Comma separated; 0 takes any free port (the task reads $PORT0, $PORT1 ...)" />
    <${TextArea} ...${p} name="env" label="Environment" error=${e.env} hint="One NAME=value a line" />
    <fieldset>
      <legend>Health check</legend>
      <${Field} label="Protocol" id="svc-hcProtocol" error=${e.health}>
        <select id="svc-hcProtocol" value=${form.hcProtocol} onChange=${(ev) => set('hcProtocol', ev.target.value)}>
          <option value="">None</option>
          ${HEALTH_PROTOCOLS.map((x) => html`<option value=${x}>${x}</option>`)}
        </select>
      <//>
      ${form.hcProtocol.includes('HTTP') && html`<${Input} ...${p} name="hcPath" label="Path" />`}
      ${form.hcProtocol === 'COMMAND' && html`<${Input} ...${p} name="hcCommand" label="Check command" />`}
      ${form.hcProtocol && form.hcProtocol !== 'COMMAND' && html`<${Input} ...${p} name="hcPortIndex"
        label="Port index" type="number" hint="Which of the ports it probes (0: the first)" />`}
      ${form.hcProtocol && html`<div class="row" style=${ROW}>
        <${Input} ...${p} name="hcGrace" label="Grace period (s)" type="number" />
        <${Input} ...${p} name="hcInterval" label="Interval (s)" type="number" />
        <${Input} ...${p} name="hcMaxFailures" label="Max failures" type="number" />
      </div>`}
    </fieldset>
    <${TextArea} ...${p} name="constraints" label="Constraints" error=${e.constraints}
      hint="One a line: field:OPERATOR[:value], e.g. hostname:UNIQUE" />
  </div>`;
}

/** `/v2/fit`'s verdict in words. */
function FitResult({ fit }) {
  if (!fit) return null;
  return html`<div class="card" role="status" data-testid="fit-result">
    <strong>${fit.fits ? 'It fits the cluster now.' : 'It does not fit the cluster now.'}</strong>
    <ul>${(fit.apps || []).flatMap((a) => (a.reasons || []).map((r) =>
      html`<li>${a.id}: ${r.reason}${r.agents ? ` (${[].concat(r.agents).length} agents)` : ''}</li>`))}</ul>
  </div>`;
}

export function ServiceFormPage({ params = {} }) {
  const editing = params.id || null;
  const [base, setBase] = useState(editing ? null : NEW_APP);
  const [form, setForm] = useState(fromApp(NEW_APP));
  const [mode, setMode] = useState('form');
  const [text, setText] = useState('');
  const [error, setError] = useState(null); // the API's (or the JSON parser's) error
  const [localErrors, setLocalErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [fit, setFit] = useState(null);

  useEffect(() => {
    if (!editing) return;
    api.get(appUrl(editing)).then((body) => {
      const def = definition(body.app);
      setBase(def);
      setForm(fromApp(def));
      setText(JSON.stringify(def, null, 2));
    }, setError);
  }, [editing]);

  const set = (name, value) => setForm((f) => ({ ...f, [name]: value }));

  /** The definition as it stands in the current mode; null (and an error shown) if invalid. */
  const current = () => {
    setLocalErrors({});
    if (mode === 'json') {
      try {
        return JSON.parse(text);
      } catch (e) {
        setError(new Error(`The JSON is not valid: ${e.message}`));
        return null;
      }
    }
    try {
      return toApp(form, base);
    } catch (e) {
      setLocalErrors({ [e.field]: e.message });
      return null;
    }
  };

  const switchTo = (next) => {
    if (next === mode) return;
    const app = current();
    if (!app) return;
    setError(null);
    if (next === 'json') setText(JSON.stringify(app, null, 2));
    else {
      setBase(app);
      setForm(fromApp(app));
    }
    setMode(next);
  };

  const submit = async (e) => {
    e.preventDefault();
    const app = current();
    if (!app) return;
    setBusy(true);
    setError(null);
    setFit(null);
    try {
      if (editing) await api.put(appUrl(editing), app, { query: { partialUpdate: 'false' } });
      else await api.post(`${MARATHON}/apps`, app);
      const id = editing || (app.id.startsWith('/') ? app.id : '/' + app.id);
      marathon().refresh([id]);
      navigate('/services/detail/' + encodeURIComponent(id));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const checkFit = async () => {
    const app = current();
    if (!app) return;
    setError(null);
    try {
      setFit(await api.post(`${MARATHON}/fit`, app));
    } catch (err) {
      setError(err);
    }
  };

  if (editing && !base) {
    return html`<h1>Edit ${editing}</h1>${error ? html`<${ErrorText} error=${error} />` : html`<p>Loading...</p>`}`;
  }
  const { byField, other } = splitErrors(error);
  const fieldErrors = { ...byField, ...localErrors };
  const shownElsewhere = mode === 'form' && Object.keys(byField).length > 0;
  return html`<section class="service-form">
    <h1>${editing ? `Edit ${editing}` : 'Create a service'}</h1>
    <${Tabs} tabs=${[{ id: 'form', label: 'Form' }, { id: 'json', label: 'JSON editor' }]}
      active=${mode} onSelect=${switchTo} label="Edit as" />
    <form onSubmit=${submit} aria-label=${editing ? 'Edit service' : 'Create service'} novalidate>
      ${mode === 'form'
        ? html`<${FormFields} form=${form} set=${set} errors=${fieldErrors} editing=${!!editing} />`
        : html`<${Field} label="App definition (JSON)" id="svc-json"
              error=${error && error.details && error.details.length
                ? error.details.map((d) => `${d.path || '/'}: ${d.errors.join('; ')}`).join(' | ') : null}>
            <textarea id="svc-json" class="code" spellcheck="false" value=${text}
              onInput=${(ev) => setText(ev.target.value)}></textarea>
          <//>`}
      ${error && html`<div class="error" role="alert" data-testid="form-error">
        ${shownElsewhere ? `${errorText(error)}: see the fields marked above.` : errorText(error)}
        ${mode === 'form' && other.length > 0 && html`<ul>${other.map((o) => html`<li>${o}</li>`)}</ul>`}
      </div>`}
      <div class="actions">
        <button class="primary" type="submit" disabled=${busy}>${editing ? 'Save and deploy' : 'Create'}</button>
        <button type="button" onClick=${checkFit}>Check it fits</button>
        <a class="button" href=${href(editing ? '/services/detail/' + encodeURIComponent(editing) : '/services')}>Cancel</a>
      </div>
      <${FitResult} fit=${fit} />
    </form>
  </section>`;
}
