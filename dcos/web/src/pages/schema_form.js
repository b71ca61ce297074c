// A form generated from a package's JSON Schema config (config.json), for the Catalog's install
// page (pages/catalog.js). Objects become fieldsets; string, number, integer, boolean, enum and
// array-of-strings properties become inputs (any other shape: a small JSON box); defaults are
// filled in, `description` is the hint, required properties are marked. Errors sit next to their
// field, keyed by JSON pointer (`/service/instances`): the client-side checks here (type,
// minimum, maximum, required, enum) and the package service's JsonSchemaMismatch errors
// (`data.errors[].path` / `instance.pointer`, dcos/packaging/render.py OptionError) alike.
// Every other rule of the schema (pattern, lengths, additionalProperties) is the package
// service's to check: its answer is mapped onto the fields by `placeErrors`.
import { html, useEffect, useState } from '../lib.js';
import { Field } from '../ui.js';

// --- pointers and values -----------------------------------------------------------------

/** A JSON pointer with one more segment. */
export function childPointer(pointer, key) {
  return pointer + '/' + String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

function segments(pointer) {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** The value at `pointer` in `doc` (undefined when absent). */
export function getAt(doc, pointer) {
  let cur = doc;
  for (const s of segments(pointer)) {
    if (!isObject(cur) && !Array.isArray(cur)) return undefined;
    cur = cur[s];
  }
  return cur;
}

/** A copy of `doc` with `value` at `pointer` (undefined: the key removed); parents created. */
export function setAt(doc, pointer, value) {
  const segs = segments(pointer);
  if (!segs.length) return value;
  const root = isObject(doc) ? { ...doc } : {};
  let cur = root;
  for (let i = 0; i < segs.length - 1; i++) {
    cur[segs[i]] = isObject(cur[segs[i]]) ? { ...cur[segs[i]] } : {};
    cur = cur[segs[i]];
  }
  const last = segs[segs.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return root;
}

/**
 * The options a package gets when the user gives none, as the package service computes them
 * (render.py merge_defaults): each property's `default`, and for an object without one, the
 * defaults of its own properties.
 */
export function defaultsOf(schema) {
  const out = {};
  const props = schema && schema.properties;
  if (!isObject(props)) return out;
  for (const [name, prop] of Object.entries(props)) {
    if (!isObject(prop)) continue;
    if ('default' in prop) out[name] = clone(prop.default);
    else if (isObject(prop.properties)) out[name] = defaultsOf(prop);
  }
  return out;
}

/**
 * What the user changed: `value` less everything equal to `defaults` (objects compared key by
 * key). The package service merges the defaults back (render.py merge_options), so an install
 * stores only the user's own choices, and an upgrade picks up the new version's defaults.
 */
export function changedOptions(defaults, value) {
  const out = {};
  for (const [k, v] of Object.entries(value || {})) {
    const d = defaults ? defaults[k] : undefined;
    if (isObject(v) && isObject(d)) {
      const sub = changedOptions(d, v);
      if (Object.keys(sub).length) out[k] = sub;
    } else if (JSON.stringify(v) !== JSON.stringify(d)) {
      out[k] = clone(v);
    }
  }
  return out;
}

// --- client-side checks ------------------------------------------------------------------

function typeOk(value, type) {
  switch (type) {
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'string': return typeof value === 'string';
    case 'boolean': return typeof value === 'boolean';
    case 'object': return isObject(value);
    case 'array': return Array.isArray(value);
    case 'null': return value === null;
    default: return true;
  }
}

const article = (t) => (/^[aeiou]/.test(t) ? 'an' : 'a');

/**
 * The client-side errors of `value` against `schema`: {pointer: message} for type, minimum,
 * maximum (and their exclusive forms), required and enum. Empty when nothing is wrong.
 */
export function validateOptions(schema, value, pointer = '', out = {}) {
  if (!isObject(schema) || value === undefined) return out;
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeOk(value, t))) {
      out[pointer] = `must be ${types.map((t) => `${article(t)} ${t}`).join(' or ')}`;
      return out;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out[pointer] = `must be one of: ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`;
    return out;
  }
  if (typeof value === 'number') {
    const exMin = schema.exclusiveMinimum, exMax = schema.exclusiveMaximum;
    if (typeof schema.minimum === 'number') {
      if (exMin === true ? value <= schema.minimum : value < schema.minimum) {
        out[pointer] = `must be at least ${schema.minimum}${exMin === true ? ' (exclusive)' : ''}`;
      }
    }
    if (typeof exMin === 'number' && value <= exMin) out[pointer] = `must be greater than ${exMin}`;
    if (typeof schema.maximum === 'number') {
      if (exMax === true ? value >= schema.maximum : value > schema.maximum) {
        out[pointer] = `must be at most ${schema.maximum}${exMax === true ? ' (exclusive)' : ''}`;
      }
    }
    if (typeof exMax === 'number' && value >= exMax) out[pointer] = `must be less than ${exMax}`;
  }
  if (isObject(value)) {
    for (const name of Array.isArray(schema.required) ? schema.required : []) {
      if (!(name in value)) out[childPointer(pointer, name)] = 'required';
    }
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      if (name in value) validateOptions(prop, value[name], childPointer(pointer, name), out);
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((item, i) => validateOptions(schema.items, item, childPointer(pointer, i), out));
  }
  return out;
}

// --- the package service's errors ----------------------------------------------------------

/**
 * The field errors of a package service refusal: for a JsonSchemaMismatch (`data.errors`, each
 * with `path` -- the failing option, a missing required one named by its own path -- and
 * `instance.pointer`, the object that failed), {pointer: message}; null for any other error.
 */
export function serverFieldErrors(error) {
  const body = error && error.body;
  const list = body && body.data && Array.isArray(body.data.errors) ? body.data.errors : null;
  if (!list || body.type !== 'JsonSchemaMismatch') return null;
  const out = {};
  for (const e of list) {
    const pointer = typeof e.path === 'string' ? e.path : (e.instance && e.instance.pointer) || '';
    const message = e.message || e.keyword || 'invalid';
    out[pointer] = out[pointer] ? `${out[pointer]}; ${message}` : message;
  }
  return out;
}

/** Every pointer the form renders a field or fieldset for ("" is the whole form). */
export function fieldPointers(schema, pointer = '', out = new Set()) {
  out.add(pointer);
  if (isObject(schema) && isObject(schema.properties) && !schema.enum) {
    for (const [name, prop] of Object.entries(schema.properties)) {
      fieldPointers(prop, childPointer(pointer, name), out);
    }
  }
  return out;
}

/**
 * `errors` ({pointer: message}) moved onto fields the form shows: an error at a pointer with no
 * field of its own (an array item, an unknown option) goes to its nearest shown ancestor ("":
 * the form as a whole), prefixed with the rest of its path.
 */
export function placeErrors(schema, errors) {
  const shown = fieldPointers(schema);
  const out = {};
  for (const [pointer, message] of Object.entries(errors || {})) {
    let at = pointer;
    while (at && !shown.has(at)) at = at.slice(0, at.lastIndexOf('/'));
    const text = at === pointer ? message : `${pointer.slice(at.length + 1)}: ${message}`;
    out[at] = out[at] ? `${out[at]}; ${text}` : text;
  }
  return out;
}

// --- the form ----------------------------------------------------------------------------

const fieldId = (prefix, pointer) => prefix + (pointer || '-root').replace(/[^A-Za-z0-9_-]/g, '-');

function kindOf(schema) {
  if (!isObject(schema)) return 'json';
  if (Array.isArray(schema.enum)) return 'enum';
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  if (t === 'object' || (!t && isObject(schema.properties))) return isObject(schema.properties) ? 'object' : 'json';
  if (t === 'array') return isObject(schema.items) && schema.items.type === 'string' && !schema.items.enum ? 'strings' : 'json';
  if (t === 'string' || t === 'boolean' || t === 'number' || t === 'integer') return t;
  return 'json';
}

/** A number box that keeps what is typed (`1.`, `-`) while the parent keeps the number. */
function NumberInput({ id, value, integer, onChange, describedBy, invalid }) {
  const [text, setText] = useState(value === undefined || value === null ? '' : String(value));
  useEffect(() => {
    const parsed = text.trim() === '' ? undefined : Number(text);
    if (parsed !== value && !(Number.isNaN(parsed) && typeof value === 'string')) {
      setText(value === undefined || value === null ? '' : String(value));
    }
  }, [value]);
  const onInput = (e) => {
    const t = e.target.value;
    setText(t);
    if (t.trim() === '') onChange(undefined);
    else onChange(Number.isNaN(Number(t)) ? t : Number(t));
  };
  return html`<input id=${id} type="text" inputmode=${integer ? 'numeric' : 'decimal'}
    value=${text} onInput=${onInput} aria-invalid=${invalid ? 'true' : undefined}
    aria-describedby=${describedBy} />`;
}

/** A JSON box for a value the form has no input for (an array of objects, a free object). */
function JsonInput({ id, value, onChange, describedBy, invalid }) {
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState('');
  const onInput = (e) => {
    const t = e.target.value;
    setText(t);
    if (t.trim() === '') { setBad(''); onChange(undefined); return; }
    try {
      onChange(JSON.parse(t));
      setBad('');
    } catch (err) {
      setBad(`not JSON: ${err.message}`);
    }
  };
  return html`<textarea id=${id} class="code" style="min-height:90px" value=${text} onInput=${onInput}
      aria-invalid=${invalid || bad ? 'true' : undefined} aria-describedby=${describedBy}></textarea>
    ${bad && html`<small class="field-error" role="alert">${bad}</small>`}`;
}

function Label({ name, schema, required }) {
  return html`${(schema && schema.title) || name}${required
    ? html` <abbr title="required" aria-label="required">*</abbr>` : ''}`;
}

function Property({ name, schema, pointer, value, required, errors, prefix, onSet }) {
  const kind = kindOf(schema);
  const id = fieldId(prefix, pointer);
  const error = errors[pointer];
  const hint = schema && schema.description;
  const describedBy = [hint ? id + '-hint' : '', error ? id + '-error' : ''].filter(Boolean).join(' ') || undefined;
  if (kind === 'object') {
    return html`<fieldset class="card" style="margin:0 0 12px" id=${id}
        aria-describedby=${describedBy}>
      <legend><strong><${Label} name=${name} schema=${schema} required=${required} /></strong></legend>
      ${hint && html`<p class="hint" id=${id + '-hint'}>${hint}</p>`}
      ${error && html`<p class="field-error" role="alert" id=${id + '-error'}>${error}</p>`}
      <${Properties} schema=${schema} pointer=${pointer} value=${value} errors=${errors}
        prefix=${prefix} onSet=${onSet} />
    </fieldset>`;
  }
  const common = { id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy };
  let input;
  if (kind === 'string') {
    input = html`<input ...${common} type="text" value=${typeof value === 'string' ? value : value ?? ''}
      onInput=${(e) => onSet(pointer, e.target.value)} />`;
  } else if (kind === 'integer' || kind === 'number') {
    input = html`<${NumberInput} id=${id} value=${value} integer=${kind === 'integer'}
      invalid=${!!error} describedBy=${describedBy} onChange=${(v) => onSet(pointer, v)} />`;
  } else if (kind === 'boolean') {
    input = html`<input ...${common} type="checkbox" style="width:auto" checked=${value === true}
      onChange=${(e) => onSet(pointer, e.target.checked)} />`;
  } else if (kind === 'enum') {
    const at = schema.enum.findIndex((e) => JSON.stringify(e) === JSON.stringify(value));
    input = html`<select ...${common} value=${at < 0 ? '' : String(at)}
        onChange=${(e) => onSet(pointer, e.target.value === '' ? undefined : clone(schema.enum[Number(e.target.value)]))}>
      ${at < 0 && html`<option value="">(choose)</option>`}
      ${schema.enum.map((e, i) => html`<option value=${String(i)}>${typeof e === 'string' ? e : JSON.stringify(e)}</option>`)}
    </select>`;
  } else if (kind === 'strings') {
    const text = Array.isArray(value) ? value.join('\n') : '';
    input = html`<textarea ...${common} rows="3" value=${text}
      onInput=${(e) => onSet(pointer, e.target.value.split('\n').map((s) => s.trim()).filter(Boolean))}></textarea>`;
  } else {
    input = html`<${JsonInput} id=${id} value=${value} invalid=${!!error} describedBy=${describedBy}
      onChange=${(v) => onSet(pointer, v)} />`;
  }
  const fullHint = kind === 'strings' ? `${hint ? hint + ' ' : ''}(one per line)` : hint;
  return html`<${Field} id=${id} label=${html`<${Label} name=${name} schema=${schema} required=${required} />`}
      error=${error} hint=${fullHint && html`<span id=${id + '-hint'}>${fullHint}</span>`}>
    ${input}
  </${Field}>`;
}

function Properties({ schema, pointer, value, errors, prefix, onSet }) {
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(schema.properties || {}).map(([name, prop]) => {
    const p = childPointer(pointer, name);
    return html`<${Property} key=${name} name=${name} schema=${prop} pointer=${p}
      value=${isObject(value) ? value[name] : undefined} required=${required.has(name)}
      errors=${errors} prefix=${prefix} onSet=${onSet} />`;
  });
}

/**
 * The form of `schema` (an object schema): `value` the whole options object, `onChange(next)`
 * with the new one, `errors` {pointer: message} (see `placeErrors`), `prefix` the ids' prefix
 * (a field's id is the prefix and its pointer, e.g. `opt-service-instances`).
 */
export function SchemaForm({ schema, value, onChange, errors = {}, prefix = 'opt' }) {
  if (!isObject(schema) || !isObject(schema.properties) || !Object.keys(schema.properties).length) {
    return html`<p class="hint">This package has no options.</p>`;
  }
  const onSet = (pointer, v) => onChange(setAt(value, pointer, v));
  return html`<div class="schema-form">
    ${errors[''] && html`<p class="error" role="alert">${errors['']}</p>`}
    <${Properties} schema=${schema} pointer="" value=${value} errors=${errors} prefix=${prefix}
      onSet=${onSet} />
  </div>`;
}

/** The id of the field for `pointer` (to focus the first error). */
export function fieldIdOf(pointer, prefix = 'opt') {
  return fieldId(prefix, pointer);
}
