// node --test dcos/web/test: the RecordIO decoder of master.js and the model's bookkeeping,
// without a browser (run by tests/web/test_js_units.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordIODecoder, applyEvent, masterModel, parseResources } from '../src/master.js';

const enc = new TextEncoder();
const frame = (s) => { const b = enc.encode(s); return [...enc.encode(`${b.length}\n`), ...b]; };

test('records split anywhere, multi-byte characters included', () => {
  const recs = ['{"a":1}', '{"name":"café ☕ 🚀"}', '', '{"b":[1,2,3]}'];
  const bytes = Uint8Array.from(recs.flatMap(frame));
  for (let size = 1; size <= bytes.length; size++) {
    const dec = new RecordIODecoder();
    const out = [];
    for (let i = 0; i < bytes.length; i += size) out.push(...dec.push(bytes.subarray(i, i + size)));
    assert.deepEqual(out, recs, `chunk size ${size}`);
  }
});

test('a bad length is an error', () => {
  assert.throws(() => new RecordIODecoder().push(enc.encode('x1\n{}')), /record length/);
  assert.throws(() => new RecordIODecoder().push(enc.encode('123456789012345678901234')), /no record length/);
});

const res = (cpus, mem) => [
  { name: 'cpus', type: 'SCALAR', scalar: { value: cpus } },
  { name: 'mem', type: 'SCALAR', scalar: { value: mem } },
  { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31009 }] } },
];
const agent = (id, cpus) => ({ agent_info: { id: { value: id }, hostname: 'h', port: 1, resources: res(cpus, 1024) },
  active: true, total_resources: res(cpus, 1024) });
const task = (id, agentId, state) => ({ task_id: { value: id }, framework_id: { value: 'F' }, agent_id: { value: agentId },
  name: id, state, resources: res(0.5, 64), statuses: [{ state, timestamp: 1 }] });

test('resources parse', () => {
  assert.deepEqual(parseResources(res(2, 10)), { cpus: 2, mem: 10, disk: 0, gpus: 0, ports: '31000-31009' });
});

test('the model follows SUBSCRIBED and the events', () => {
  applyEvent({ type: 'SUBSCRIBED', subscribed: { heartbeat_interval_seconds: 15, get_state: {
    get_agents: { agents: [agent('A', 2), agent('B', 1)] },
    get_frameworks: { frameworks: [{ framework_info: { id: { value: 'F' }, name: 'web' }, active: true }] },
    get_tasks: { tasks: [task('t1', 'A', 'TASK_RUNNING')], completed_tasks: [task('t0', 'B', 'TASK_FINISHED')] },
  } } });
  let m = masterModel();
  assert.equal(m.total.cpus, 3);
  assert.equal(m.allocated.cpus, 0.5);
  assert.equal(m.agents.get('A').allocated.cpus, 0.5);
  assert.equal(m.counts.TASK_RUNNING, 1);
  applyEvent({ type: 'TASK_ADDED', task_added: { task: task('t2', 'B', 'TASK_STAGING') } });
  assert.equal(m.allocated.cpus, 1);
  assert.equal(m.frameworks.get('F').allocated.cpus, 1);
  applyEvent({ type: 'TASK_UPDATED', task_updated: { framework_id: { value: 'F' }, state: 'TASK_FAILED',
    status: { task_id: { value: 't2' }, state: 'TASK_FAILED', timestamp: 2, message: 'boom' } } });
  assert.equal(m.allocated.cpus, 0.5);
  assert.equal(m.agents.get('B').allocated.cpus, 0);
  assert.ok(m.completedTasks.has('t2') && !m.tasks.has('t2'));
  assert.equal(m.completedTasks.get('t2').statuses.at(-1).message, 'boom');
  assert.equal(m.counts.TASK_FAILED, 1);
  applyEvent({ type: 'AGENT_REMOVED', agent_removed: { agent_id: { value: 'B' } } });
  assert.equal(m.total.cpus, 2);
  applyEvent({ type: 'FRAMEWORK_REMOVED', framework_removed: { framework_info: { id: { value: 'F' }, name: 'web' } } });
  assert.ok(m.completedFrameworks.has('F') && !m.frameworks.has('F'));
  // a new SUBSCRIBED (failover) rebuilds the model from scratch
  applyEvent({ type: 'SUBSCRIBED', subscribed: { get_state: { get_agents: { agents: [agent('C', 4)] } } } });
  m = masterModel();
  assert.equal(m.total.cpus, 4);
  assert.equal(m.tasks.size, 0);
  assert.equal(m.allocated.cpus, 0);
});
