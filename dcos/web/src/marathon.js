// The live model of the webapp framework (our Marathon), shared by every page that shows apps:
// the Services pages (pages/services.js, service.js) and the Dashboard (W1's dashboard.js, which
// lists the unhealthy, deploying and waiting services).
//
//   const m = useMarathon();   // re-renders its caller when the model changes
//   m.apps                     // Marathon app JSON (with counts, deployments,
//                              //   lastTaskFailure; `tasks` once fetched), sorted by id
//   m.needTasks(id)            // fetch an app's tasks if the model has not got them yet
//   m.byId.get(id)             // one app; m.status.get(id) its status (STATUS.*)
//   m.queue.get(id)            // its /v2/queue entry (delay, processedOffersSummary), if waiting
//   m.deployments              // /v2/deployments; m.frameworkId the webapp's framework id
//   m.loading, m.error, m.connected (the event stream is open)
//
// How it stays live: one GET of /v2/apps (with counts, deployments, last failures: no tasks),
// /v2/deployments and /v2/queue, then an EventSource on /v2/events. Each event names the app(s)
// it concerns; those apps alone are fetched again (/v2/apps/<id>): at once, then at most once per
// DEBOUNCE_MS while events keep coming (the events of the meantime in one batch, one batch in
// flight at a time); a deployment event also refetches the deployments. The launch queue is
// refetched with every batch, and polled on its own (QUEUE_POLL_MS) only while some app waits in
// it: Marathon sends no event when offers are declined or a launch delay runs out. Nothing
// re-polls the whole state on a timer; after the stream drops it reconnects (RECONNECT_MS) and
// loads everything once, since events may have been missed meanwhile. One model (one stream)
// serves all the callers of the hook; it closes IDLE_CLOSE_MS after the last one unmounts.
import { useEffect, useState } from './lib.js';
import { api } from './api.js';

export const MARATHON = '/service/marathon/v2';
// The list leaves the tasks out (10,000 tasks are 5 MB; the counts say enough for a list): an
// app's tasks come with its own GET, made when an event names it or a page needs them
// (`needTasks`, called by pages/service.js).
const APP_EMBEDS = ['apps.counts', 'apps.deployments', 'apps.lastTaskFailure'];
const ONE_APP_EMBEDS = ['app.tasks', 'app.counts', 'app.deployments', 'app.lastTaskFailure', 'app.readiness'];
const DEBOUNCE_MS = 100;
const RECONNECT_MS = 2000;
const QUEUE_POLL_MS = 2000;
const IDLE_CLOSE_MS = 30000;
const BATCH_AS_LIST = 40; // more changed apps than this in one batch: one GET of the whole list
const PARALLEL = 6;

/** The statuses DC/OS showed for a service. */
export const STATUS = {
  RUNNING: 'Running',
  DEPLOYING: 'Deploying',
  DELAYED: 'Delayed',
  WAITING: 'Waiting for resources',
  UNHEALTHY: 'Unhealthy',
  SUSPENDED: 'Suspended',
  STOPPED: 'Stopped',
};

/** The CSS class of a status (style.css colours `.status.<class>`). */
export function statusClass(status) {
  if (status === STATUS.RUNNING) return 'status ok';
  if (status === STATUS.UNHEALTHY) return 'status bad';
  if (status === STATUS.SUSPENDED || status === STATUS.STOPPED) return 'status';
  return 'status warn';
}

/** Whether a queue entry's offers were declined in the last round (its app cannot be placed). */
export function declinedOffers(item) {
  const s = item && item.processedOffersSummary;
  if (!s) return false;
  if (s.reasons && s.reasons.length) return true;
  return (s.rejectSummaryLastOffers || []).some((r) => r.declined > 0);
}

/**
 * An app's status, derived as DC/OS' UI did from the app, its deployments and its launch-queue
 * entry: Delayed (in the queue and its launch delay not over yet), Waiting for resources (in the
 * queue, delay over, the last offers declined), Deploying (a deployment runs), Suspended
 * (instances 0), Unhealthy (a task fails its health checks), Running (tasks run), Stopped (it
 * should run but nothing does and nothing is under way).
 */
export function appStatus(app, queueItem) {
  if (queueItem) {
    const delay = queueItem.delay || {};
    if (delay.overdue === false && delay.timeLeftSeconds > 0) return STATUS.DELAYED;
    if (declinedOffers(queueItem)) return STATUS.WAITING;
  }
  if ((app.deployments || []).length > 0) return STATUS.DEPLOYING;
  if (app.instances === 0) return (app.tasksRunning || 0) > 0 ? STATUS.DEPLOYING : STATUS.SUSPENDED;
  if ((app.tasksUnhealthy || 0) > 0) return STATUS.UNHEALTHY;
  if ((app.tasksRunning || 0) > 0) return STATUS.RUNNING;
  if (queueItem) return STATUS.DEPLOYING;
  return STATUS.STOPPED;
}

/** Health in words: `2 healthy, 1 unhealthy`, or `No health checks`. */
export function healthText(app) {
  if (!(app.healthChecks || []).length) return 'No health checks';
  const parts = [];
  const running = app.tasksRunning || 0;
  const known = (app.tasksHealthy || 0) + (app.tasksUnhealthy || 0);
  if (app.tasksHealthy) parts.push(`${app.tasksHealthy} healthy`);
  if (app.tasksUnhealthy) parts.push(`${app.tasksUnhealthy} unhealthy`);
  if (running > known) parts.push(`${running - known} unknown`);
  return parts.join(', ') || '-';
}

/** The URL of one app's JSON (ids are absolute paths: `/shop/web`). */
export function appUrl(id, tail = '') {
  return `${MARATHON}/apps${id.startsWith('/') ? '' : '/'}${id}${tail}`;
}

const DEPLOYMENT_EVENTS = new Set([
  'deployment_info', 'deployment_success', 'deployment_failed', 'deployment_step_success',
  'deployment_step_failure', 'group_change_success',
]);

/**
 * The apps an event removed: `app_terminated_event`'s, and those a deployment plan has in its
 * original state but not in its target (deleted: Marathon forgets them at once).
 */
export function eventGone(type, ev) {
  if (type === 'app_terminated_event') return ev.appId ? [ev.appId] : [];
  if (!DEPLOYMENT_EVENTS.has(type) || !ev.plan) return [];
  const target = new Set(((ev.plan.target && ev.plan.target.apps) || []).map((a) => a.id));
  return ((ev.plan.original && ev.plan.original.apps) || []).map((a) => a.id).filter((id) => !target.has(id));
}

/** The app ids an event concerns (empty: none, or it is not about apps). */
export function eventApps(type, ev) {
  switch (type) {
    case 'status_update_event':
    case 'health_status_changed_event':
    case 'unhealthy_task_kill_event':
    case 'failed_health_check_event':
      return ev.appId ? [ev.appId] : [];
    case 'instance_changed_event':
      return ev.runSpecId ? [ev.runSpecId] : [];
    case 'api_post_event':
      return ev.appDefinition && ev.appDefinition.id ? [ev.appDefinition.id] : [];
    case 'deployment_info':
    case 'deployment_success':
    case 'deployment_failed':
    case 'deployment_step_success':
    case 'deployment_step_failure': {
      const plan = ev.plan || {};
      const ids = new Set();
      for (const step of plan.steps || []) for (const a of step.actions || []) if (a.app) ids.add(a.app);
      for (const a of (plan.target && plan.target.apps) || []) ids.add(a.id);
      for (const id of eventGone(type, ev)) ids.delete(id);
      return [...ids];
    }
    default:
      return [];
  }
}

const EVENT_TYPES = [
  'status_update_event', 'health_status_changed_event', 'unhealthy_task_kill_event',
  'app_terminated_event', 'failed_health_check_event', 'instance_changed_event', 'api_post_event',
  ...DEPLOYMENT_EVENTS,
];

/** The one live model (a singleton: created by the first `useMarathon()` caller). */
class MarathonModel {
  constructor() {
    this.byId = new Map();
    this.queue = new Map();
    this.deployments = [];
    this.frameworkId = null;
    this.loading = true;
    this.error = null;
    this.connected = false;
    this.listeners = new Set();
    this.snapshot = null;
    this.pendingApps = new Set();
    this.wantTasks = new Set(); // apps a page asked the tasks of (`needTasks`)
    this.pendingGone = new Set();
    this.flushing = false; // a flush's requests are in flight
    this.lastFlush = 0; // Date.now() when the last flush began
    this.gone = new Set(); // apps deleted: events about their last tasks fetch nothing
    this.pendingDeployments = false;
    this.timer = null;
    this.queueTimer = null;
    this.closeTimer = null;
    this.source = null;
    this.started = false;
    this.generation = 0; // bumped by a full reload: answers of older fetches are dropped
    this.missed = false; // the stream dropped: load everything when it attaches again
    this.loadedBeforeStream = false; // the last full load came before the stream attached
  }

  /** Add a listener (called with no arguments on every change); returns its remover. */
  subscribe(fn) {
    this.listeners.add(fn);
    clearTimeout(this.closeTimer);
    if (!this.started) this.start();
    return () => {
      this.listeners.delete(fn);
      if (!this.listeners.size) this.closeTimer = setTimeout(() => this.stop(), IDLE_CLOSE_MS);
    };
  }

  start() {
    this.started = true;
    this.reload();
    this.connect();
  }

  stop() {
    this.started = false;
    if (this.source) this.source.close();
    this.source = null;
    this.connected = false;
    clearTimeout(this.timer);
    clearTimeout(this.queueTimer);
    this.timer = this.queueTimer = null;
  }

  /** The state the hook hands out: a new object after each change (so memos can key on it). */
  get() {
    if (!this.snapshot) {
      const apps = [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const status = new Map(apps.map((a) => [a.id, appStatus(a, this.queue.get(a.id))]));
      this.snapshot = {
        apps, byId: this.byId, status, queue: this.queue, deployments: this.deployments,
        frameworkId: this.frameworkId, loading: this.loading, error: this.error,
        connected: this.connected, refresh: (ids) => this.refresh(ids), reload: () => this.reload(),
        forget: (id) => this.forget(id),
        needTasks: (id) => this.needTasks(id),
      };
    }
    return this.snapshot;
  }

  changed() {
    this.snapshot = null;
    for (const fn of [...this.listeners]) fn();
  }

  /** Load everything: the apps (with their embeds), deployments, queue and framework id. */
  async reload() {
    const gen = ++this.generation;
    try {
      const [apps, deployments, queue] = await Promise.all([
        api.get(`${MARATHON}/apps`, { query: { embed: APP_EMBEDS } }),
        api.get(`${MARATHON}/deployments`),
        api.get(`${MARATHON}/queue`),
      ]);
      if (gen !== this.generation) return;
      this.loadedBeforeStream = !this.connected;
      this.byId = new Map(apps.apps.map((a) => [a.id, a]));
      this.refetchWanted();
      this.deployments = deployments;
      this.setQueue(queue);
      this.error = null;
      if (!this.frameworkId) this.loadInfo();
    } catch (e) {
      if (gen !== this.generation) return;
      this.error = e;
    }
    this.loading = false;
    this.changed();
  }

  async loadInfo() {
    try {
      const info = await api.get(`${MARATHON}/info`);
      this.frameworkId = info.frameworkId || null;
      this.changed();
    } catch {
      // the framework id only builds task links; they wait for the next reload
    }
  }

  setQueue(body) {
    this.queue = new Map((body.queue || []).filter((q) => q.app).map((q) => [q.app.id, q]));
    clearTimeout(this.queueTimer);
    this.queueTimer = null;
    if (this.queue.size && this.started) {
      this.queueTimer = setTimeout(() => this.pollQueue(), QUEUE_POLL_MS);
    }
  }

  async pollQueue() {
    const gen = this.generation;
    try {
      const body = await api.get(`${MARATHON}/queue`);
      if (gen !== this.generation || !this.started) return;
      this.setQueue(body);
      this.changed();
    } catch {
      if (this.started) this.queueTimer = setTimeout(() => this.pollQueue(), QUEUE_POLL_MS);
    }
  }

  /** Open the event stream; on an error close it and try again after RECONNECT_MS. */
  connect() {
    if (!this.started || this.source) return;
    const src = new EventSource(`${MARATHON}/events`);
    this.source = src;
    let attached = false;
    src.addEventListener('event_stream_attached', () => {
      if (!this.connected) {
        this.connected = true;
        this.changed();
      }
      // a reconnect: events may have been missed while the stream was down; and a first
      // load answered before the stream attached may have missed the events in between
      if (attached || this.missed || this.loadedBeforeStream) this.reload();
      this.loadedBeforeStream = false;
      attached = true;
      this.missed = false;
    });
    for (const type of EVENT_TYPES) {
      src.addEventListener(type, (msg) => {
        let ev = {};
        try {
          ev = JSON.parse(msg.data);
        } catch {
          return;
        }
        this.onEvent(type, ev);
      });
    }
    src.onerror = () => {
      src.close();
      if (this.source === src) this.source = null;
      this.missed = true;
      if (this.connected) {
        this.connected = false;
        this.changed();
      }
      if (this.started) setTimeout(() => this.connect(), RECONNECT_MS);
    };
  }

  /** One event from the stream: remember which apps to fetch again, then wait a moment. */
  onEvent(type, ev) {
    if (type === 'api_post_event' || type === 'deployment_info') {
      for (const id of eventApps(type, ev)) this.gone.delete(id); // (re)created
    }
    for (const id of eventGone(type, ev)) {
      this.gone.add(id);
      this.pendingGone.add(id);
      this.pendingApps.delete(id);
    }
    for (const id of eventApps(type, ev)) if (!this.gone.has(id)) this.pendingApps.add(id);
    if (DEPLOYMENT_EVENTS.has(type)) this.pendingDeployments = true;
    this.schedule();
  }

  /**
   * Flush what is pending: at once after a quiet DEBOUNCE_MS (an event alone is shown without
   * delay), else DEBOUNCE_MS after the last flush began; never while one is in flight (its end
   * schedules the next).
   */
  schedule() {
    if (!this.pendingApps.size && !this.pendingGone.size && !this.pendingDeployments) return;
    if (this.timer || this.flushing) return;
    const wait = Math.max(0, this.lastFlush + DEBOUNCE_MS - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Fetch again some apps (after an action, or `ids` empty: only deployments and queue). */
  refresh(ids = []) {
    for (const id of ids) {
      this.gone.delete(id);
      this.pendingApps.add(id);
    }
    this.pendingDeployments = true;
    if (this.timer && !this.flushing) {
      clearTimeout(this.timer); // an action's answer: fetch now, not at the batch's time
      this.timer = null;
      this.flush();
    } else {
      this.schedule();
    }
  }

  /** Fetch app `id` with its tasks unless the model has them (or is fetching it already). */
  needTasks(id) {
    this.wantTasks.add(id);
    const app = this.byId.get(id);
    if (!app || app.tasks || this.pendingApps.has(id)) return;
    this.pendingApps.add(id);
    this.schedule();
  }

  /**
   * After the list replaced the apps (`reload`, a large batch): the apps whose tasks a page
   * asked for lost them (the list has none), and a fetch of them in flight may have been
   * dropped as stale: ask again.
   */
  refetchWanted() {
    let any = false;
    for (const id of this.wantTasks) {
      const app = this.byId.get(id);
      if (app && !app.tasks && !this.pendingApps.has(id)) {
        this.pendingApps.add(id);
        any = true;
      }
    }
    if (any) this.schedule();
  }

  /** Drop an app just deleted (DELETE answered): no fetch of it until it is created again. */
  forget(id) {
    this.gone.add(id);
    this.pendingApps.delete(id);
    this.wantTasks.delete(id);
    if (this.byId.has(id)) {
      this.byId = new Map(this.byId);
      this.byId.delete(id);
      this.changed();
    }
    this.refresh([]);
  }

  /** Fetch the apps named by the events since the last flush (and the queue, deployments). */
  async flush() {
    this.timer = null;
    this.flushing = true;
    this.lastFlush = Date.now();
    try {
      await this.fetchPending();
    } finally {
      this.flushing = false;
      this.schedule();
    }
  }

  async fetchPending() {
    const ids = [...this.pendingApps];
    const gone = [...this.pendingGone];
    const withDeployments = this.pendingDeployments;
    this.pendingApps.clear();
    this.pendingGone.clear();
    this.pendingDeployments = false;
    const gen = this.generation;
    const jobs = [api.get(`${MARATHON}/queue`).then((q) => () => this.setQueue(q))];
    if (withDeployments) jobs.push(api.get(`${MARATHON}/deployments`).then((d) => () => { this.deployments = d; }));
    if (ids.length > BATCH_AS_LIST) {
      jobs.push(api.get(`${MARATHON}/apps`, { query: { embed: APP_EMBEDS } }).then((body) => () => {
        this.byId = new Map(body.apps.map((a) => [a.id, a]));
        this.refetchWanted();
      }));
    } else if (ids.length) {
      jobs.push(this.fetchApps(ids));
    }
    const results = await Promise.allSettled(jobs);
    if (gen !== this.generation) return;
    for (const r of results) if (r.status === 'fulfilled') r.value();
    if (gone.some((id) => this.byId.has(id))) {
      this.byId = new Map(this.byId);
      for (const id of gone) this.byId.delete(id);
    }
    this.changed();
  }

  /** GET each of `ids` (PARALLEL at a time); returns a function applying the answers. */
  async fetchApps(ids) {
    const found = new Map();
    const gone = [];
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        try {
          const body = await api.get(appUrl(id), { query: { embed: ONE_APP_EMBEDS } });
          found.set(body.app.id, body.app);
        } catch (e) {
          if (e.status === 404) gone.push(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
    return () => {
      if (!found.size && !gone.length) return;
      this.byId = new Map(this.byId);
      for (const [id, app] of found) this.byId.set(id, app);
      for (const id of gone) this.byId.delete(id);
    };
  }
}

let model = null;

/** The model itself (created on first use): `marathon().refresh([id])` after an action,
 * `marathon().forget(id)` after a delete. */
export function marathon() {
  if (!model) model = new MarathonModel();
  return model;
}

/** A hook: the live Marathon model (see the top of this file); re-renders on every change. */
export function useMarathon() {
  const m = marathon();
  const [snap, setSnap] = useState(() => m.get());
  useEffect(() => {
    const unsubscribe = m.subscribe(() => setSnap(m.get()));
    setSnap(m.get());
    return unsubscribe;
  }, []);
  return snap;
}
