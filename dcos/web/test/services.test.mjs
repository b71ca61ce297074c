// node --test dcos/web/test: the Services pages' pure helpers without a browser (run by
// tests/web/test_js_units.py): status derivation and event routing of marathon.js, the form's
// app <-> fields mapping and error placement (pages/service_form.js), the version diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS, appStatus, eventApps, eventGone, healthText } from '../src/marathon.js';
import { definition, fieldOf, fromApp, toApp } from '../src/pages/service_form.js';
import { diffLines, hunks } from '../src/pages/service.js';
import { groupsOf } from '../src/pages/services.js';

const app = (over = {}) => ({ id: '/a', instances: 2, tasksRunning: 2, tasksHealthy: 0,
  tasksUnhealthy: 0, deployments: [], ...over });
const queued = (over = {}) => ({ app: { id: '/a' }, count: 1,
  delay: { timeLeftSeconds: 0, overdue: true },
  processedOffersSummary: { reasons: [], rejectSummaryLastOffers: [] }, ...over });

test('status as DC/OS derived it', () => {
  assert.equal(appStatus(app()), STATUS.RUNNING);
  assert.equal(appStatus(app({ deployments: [{ id: 'd' }] })), STATUS.DEPLOYING);
  assert.equal(appStatus(app({ instances: 0, tasksRunning: 0 })), STATUS.SUSPENDED);
  assert.equal(appStatus(app({ tasksUnhealthy: 1 })), STATUS.UNHEALTHY);
  assert.equal(appStatus(app({ tasksRunning: 0 })), STATUS.STOPPED);
  assert.equal(appStatus(app({ tasksRunning: 0 }), queued({ delay: { timeLeftSeconds: 30, overdue: false } })),
    STATUS.DELAYED);
  const declined = queued({ processedOffersSummary: { reasons: ['no offer with 500 cpus'] } });
  assert.equal(appStatus(app({ tasksRunning: 0, deployments: [{ id: 'd' }] }), declined), STATUS.WAITING);
  // in the queue with nothing declined yet: still deploying
  assert.equal(appStatus(app({ tasksRunning: 0, deployments: [{ id: 'd' }] }), queued()), STATUS.DEPLOYING);
});

test('health in words', () => {
  assert.equal(healthText(app()), 'No health checks');
  assert.equal(healthText(app({ healthChecks: [{}], tasksRunning: 3, tasksHealthy: 1, tasksUnhealthy: 1 })),
    '1 healthy, 1 unhealthy, 1 unknown');
});

test('events name the apps to fetch again, and the apps deleted', () => {
  assert.deepEqual(eventApps('status_update_event', { appId: '/x' }), ['/x']);
  assert.deepEqual(eventApps('instance_changed_event', { runSpecId: '/y' }), ['/y']);
  assert.deepEqual(eventApps('api_post_event', { appDefinition: { id: '/z' } }), ['/z']);
  assert.deepEqual(eventApps('event_stream_attached', {}), []);
  const plan = { steps: [{ actions: [{ action: 'StopApplication', app: '/old' }, { action: 'ScaleApplication', app: '/b' }] }],
    original: { apps: [{ id: '/old' }, { id: '/b' }] }, target: { apps: [{ id: '/b' }] } };
  assert.deepEqual(eventApps('deployment_info', { plan }), ['/b']);
  assert.deepEqual(eventGone('deployment_info', { plan }), ['/old']);
  assert.deepEqual(eventGone('app_terminated_event', { appId: '/t' }), ['/t']);
  assert.deepEqual(eventApps('app_terminated_event', { appId: '/t' }), []);
});

test('the form keeps what it does not show, and round-trips what it does', () => {
  const base = { id: '/web', cmd: 'serve', instances: 2, cpus: 0.5, mem: 64, disk: 0, gpus: 0,
    portDefinitions: [{ port: 10000, protocol: 'tcp', name: 'http' }], env: { A: '1', S: { secret: 's' } },
    healthChecks: [{ protocol: 'HTTP', path: '/h', portIndex: 0, timeoutSeconds: 5 }],
    constraints: [['hostname', 'UNIQUE']], labels: { team: 'x' }, tasks: [], version: 'v' };
  const def = definition(base);
  assert.equal(def.tasks, undefined);
  assert.equal(def.version, undefined);
  const form = fromApp(def);
  assert.equal(form.ports, '10000');
  assert.equal(form.env, 'A=1');
  assert.equal(form.constraints, 'hostname:UNIQUE');
  assert.deepEqual(toApp(form, def), def);
  const changed = toApp({ ...form, cpus: '-1', ports: '0, 8080', env: 'B=x=y', hcProtocol: '' }, def);
  assert.equal(changed.cpus, -1);
  assert.deepEqual(changed.portDefinitions, [{ port: 0, protocol: 'tcp', name: 'http' }, { port: 8080, protocol: 'tcp' }]);
  assert.deepEqual(changed.env, { S: { secret: 's' }, B: 'x=y' });
  assert.deepEqual(changed.healthChecks, []);
  assert.deepEqual(changed.labels, { team: 'x' });
  assert.throws(() => toApp({ ...form, env: 'no equals sign' }, def), (e) => e.field === 'env');
});

test("Marathon's error paths name the form's fields", () => {
  assert.equal(fieldOf('/cpus'), 'cpus');
  assert.equal(fieldOf('/portDefinitions(0)/port'), 'ports');
  assert.equal(fieldOf('/healthChecks(0)/protocol'), 'health');
  assert.equal(fieldOf('/constraints(1)'), 'constraints');
  assert.equal(fieldOf('/'), null);
});

test('groups and version diffs', () => {
  assert.deepEqual(groupsOf('/a/b/c'), ['/a', '/a/b']);
  assert.deepEqual(groupsOf('/a'), []);
  assert.deepEqual(diffLines('a\nb\nc', 'a\nB\nc'), [[' ', 'a'], ['-', 'b'], ['+', 'B'], [' ', 'c']]);
  const long = 'abcdefghij'.split('');
  const d = diffLines(long.join('\n'), long.map((x) => (x === 'f' ? 'F' : x)).join('\n'));
  assert.deepEqual(hunks(d).map(([k, l]) => k + l),
    ['...', ' d', ' e', '-f', '+F', ' g', ' h', '...']);
});
