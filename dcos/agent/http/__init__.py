"""The agent's HTTP side (aiohttp), Mesos agent paths and field names.

- `app`: `make_app` / `start_http` (called by `dcos.agent.agent.Agent.start`), ``/health``,
  ``/version``, ``/debug/stimuli``;
- `keys`: the one app key, `AGENT_KEY` (the `AgentShell` the handlers read);
- `state`: ``/state`` and ``/metrics/snapshot`` (Mesos JSON);
- `prometheus`: ``/metrics`` and ``/metrics/prometheus`` (``dcos_agent_*``, read at scrape time);
- `monitor`: ``/monitor/statistics``;
- `files`: the sandbox files API ``/files/{browse,read,download}``;
- `executor_api`: ``POST /api/v1/executor`` (custom executors).

The views read the shell and its core and change nothing; the executor API goes through the
shell's executor methods. Nothing here is imported by the shell (`dcos.agent.shell`).
"""
