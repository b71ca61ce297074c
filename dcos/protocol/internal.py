"""The internal master <-> agent channel (msgpack over HTTP, RecordIO framed).

Public clients never see this; it replaces Mesos' libprocess messages. One agent holds one
long-lived stream from the master and makes short calls to it:

Agent -> master: ``POST /internal/agent`` with ``Content-Type: application/x-msgpack``.

- ``SUBSCRIBE`` ``{"type", "agent": AgentInfo, "tasks": [TaskRecord], "frameworks":
  [FrameworkInfo JSON], "unacked": [Update]}``. Registers (no ``agent.id``) or re-registers (with
  the id it had). Answer: 200 with a chunked RecordIO stream of msgpack events (below), the
  first being ``REGISTERED``. The stream lasting is the agent's connection; when it ends, the
  agent re-subscribes with backoff. 400 for a malformed call, 403 ``{"message"}`` when the
  master refuses the agent (e.g. it was removed).
- ``UPDATE`` ``{"type", "agent_id", "updates": [Update]}``: status updates, several per call
  (the agent batches whatever is pending). 202.
- ``PONG`` ``{"type", "agent_id"}``: answer to ``PING``. 202.
- ``MESSAGE`` ``{"type", "agent_id", "framework_id", "executor_id", "data"}``: executor ->
  scheduler framework message (``data`` base64 text, as in Mesos JSON). 202.
- ``EXITED_EXECUTOR`` ``{"type", "agent_id", "framework_id", "executor_id", "status"}``. 202.

Master -> agent events on the stream (each a msgpack map with ``type``):

- ``REGISTERED`` ``{"agent_id", "master_id", "ping_interval"}``.
- ``RUN_TASKS`` ``{"framework": FrameworkInfo JSON (with ``id``), "tasks": [TaskInfo JSON]}``;
  TaskInfo carries ``agent_id`` and its resources as in Mesos. Several tasks per event.
- ``RUN_TASK_GROUP`` ``{"framework", "executor": ExecutorInfo JSON, "tasks": [TaskInfo]}``.
- ``KILL_TASK`` ``{"framework_id", "task_id", "kill_policy"?}``.
- ``ACKNOWLEDGE`` ``{"framework_id", "task_id", "uuid"}``: the scheduler acknowledged this
  update; the agent stops retrying it and may send the next one for that task.
- ``FRAMEWORK_MESSAGE`` ``{"framework_id", "executor_id", "data"}``.
- ``SHUTDOWN_FRAMEWORK`` ``{"framework_id"}``: kill all its tasks and executors.
- ``SHUTDOWN_EXECUTOR`` ``{"framework_id", "executor_id"}``: the scheduler's SHUTDOWN call; a
  custom executor gets a SHUTDOWN event and is killed after its shutdown grace period.
- ``UPDATE_FRAMEWORK`` ``{"framework": FrameworkInfo JSON}``.
- ``PING`` ``{}``: answer with a ``PONG`` call.

Shapes:

- AgentInfo: ``{"id": str | None, "hostname", "ip", "port", "resources": Resources.to_dict(),
  "attributes": {name: str | float}, "version", "capabilities": [str]}``.
- TaskRecord: ``{"framework_id", "task": TaskInfo JSON, "state", "status": TaskStatus JSON |
  None}`` -- what the agent runs (or ran and has not had acknowledged).
- Update: ``{"framework_id", "status": TaskStatus JSON}``; ``status`` carries ``agent_id``,
  ``uuid`` (base64 16 bytes), ``source``, ``timestamp``.
"""

from __future__ import annotations

PATH = "/internal/agent"

# agent -> master calls
SUBSCRIBE = "SUBSCRIBE"
UPDATE = "UPDATE"
PONG = "PONG"
MESSAGE = "MESSAGE"
EXITED_EXECUTOR = "EXITED_EXECUTOR"

# master -> agent events
REGISTERED = "REGISTERED"
RUN_TASKS = "RUN_TASKS"
RUN_TASK_GROUP = "RUN_TASK_GROUP"
KILL_TASK = "KILL_TASK"
ACKNOWLEDGE = "ACKNOWLEDGE"
FRAMEWORK_MESSAGE = "FRAMEWORK_MESSAGE"
SHUTDOWN_FRAMEWORK = "SHUTDOWN_FRAMEWORK"
SHUTDOWN_EXECUTOR = "SHUTDOWN_EXECUTOR"
UPDATE_FRAMEWORK = "UPDATE_FRAMEWORK"
PING = "PING"
