"""dcos/master: the master, a sans-IO core in a thin asyncio shell.

- `dcos.master.core`: `MasterCore` (state and decisions; typed inputs and `now` in, a list
  of typed actions out: `ToFramework`, `ToAgent`, `CloseFramework`, `CloseAgent`,
  `Persist`, `AllocateSoon`, and `Observed` while operators subscribe). Inputs are parsed at the shell: scheduler calls by
  `core/calls.py` (`parse_call`), agent calls by `dcos.protocol.internal.parse_agent_call`,
  operator writes by `core/operator_calls.py`.
- `dcos.master.shell`: `MasterShell` (streams, timers, the registry, the stimulus log); one
  method per request kind, one handler per action type.
- `dcos.master.http`: the aiohttp handlers (scheduler API, agent channel, operator API,
  JSON views, Prometheus), which reach the master only through the shell.
- `dcos.master.app`: `create_master`, `start_master`, `run_master` (serving).

One offer, file by file: the allocation loop (`shell.py`) calls `MasterCore.allocate`
(`core/offers.py`), which asks the allocator (`dcos/allocator/hierarchical.py`) and returns
`ToFramework(OFFERS)`; the scheduler's ACCEPT arrives at `http/scheduler_api.py`, is parsed
into `Accept` with `TaskSpec`s (`core/calls.py`), goes through `MasterShell.scheduler_call`
to `MasterCore.scheduler_call` (`core/master.py`, call table) and `OffersMixin.accept`
(`core/offers.py`: the checks that need state), which returns `ToAgent(RUN_TASKS)`.

One status update: the agent's UPDATE arrives at `http/agent_channel.py`, is parsed into
`AgentUpdate` (`dcos/protocol/internal.py`), goes through `MasterShell.agent_call` to
`MasterCore.agent_call` and `TasksMixin.agent_updates` (`core/tasks.py`), which records the
state, frees a terminal task's resources (`AllocateSoon`) and returns `ToFramework(UPDATE)`;
the scheduler's ACKNOWLEDGE comes back the same way as ACCEPT and leaves as
`ToAgent(ACKNOWLEDGE)`.

What the master refuses (issue 9): ids a framework chooses are checked as Mesos'
`validateID` (`dcos.protocol.ids.id_error`, used by `core/calls.py`); every agent call and
re-registration must carry the session secret of its agent id (`dcos.protocol.internal`,
checked in `core/agents.py`), and an agent's updates only count for tasks it holds
(`core/tasks.py`); quota must fit the cluster unless forced (`MasterCore.set_quota`).

Large reads (`/master/state` and friends, v1 GET_STATE ...) are answered from shared,
rate-limited snapshots (`http/snapshots.py`), so readers do not take the event loop from
offers, launches and status updates.

The operator event stream (v1 operator SUBSCRIBE, what the web UI follows): the handler
(`http/operator_feed.py`) turns observation on in the core (`MasterShell.observe_operators`
-> `MasterCore.observe`); from then on the core adds an `Observed` action
(`core/observed.py`: TaskAdded, TaskUpdated, AgentAdded, ...) wherever a task, agent or
framework changes, the shell hands each to the feed (`MasterShell.observer`), which renders
it once with the GET_STATE builders (`http/state_json.py`) and queues it on every
subscriber's bounded stream (`http/streams.py` `OperatorStream`). With no subscriber the
core makes none.

Security (issue 13), on with ``--security-dir`` (`MasterShell.security`, a
`dcos.security.context.SecurityContext`): HTTPS, and every request but /health and
/openapi.json authenticated (`http/secure.py`: Basic from credentials.json, bearer tokens,
client certificates); the decisions are `authz.py`'s (sans-IO): a framework's principal
and the ownership of its id, ``register_frameworks`` at SUBSCRIBE, ``run_tasks`` at LAUNCH
(refused tasks are marked on their `TaskSpec` and answered TASK_ERROR /
REASON_TASK_UNAUTHORIZED by `core/offers.py`), the operator writes' ACLs, and what each
principal sees of the state and the operator feed (`ScopedCore`). The internal agent
channel takes agent certificates only. The IAM and secrets routes are in
`http/iam.py`, which also keeps the context's ACLs and revocations current. Limits, on or
off: scheduler calls per framework (429), event streams per principal (429), request
bodies (413).
"""
