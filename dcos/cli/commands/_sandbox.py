"""Finding a task's sandbox and reading it through the agent's files API.

Called by: `dcos-py task log` and `dcos-py task ls` (`dcos.cli.commands.task`). The task is
found in the master's ``/master/state`` (``tasks`` and ``completed_tasks`` of every framework,
an unambiguous id prefix accepted, like ``dcos task``), its agent's address from ``slaves``;
the sandbox is the executor ``directory`` in the agent's ``/state``; files are read with
``/files/read`` (``offset=-1`` gives the size) and listed with ``/files/browse``. Every failure
is a `CliError` with one line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dcos.cli import http
from dcos.cli.errors import CliError

READ_CHUNK = 64 * 1024
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST",
            "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR"}  # fmt: skip


@dataclass(frozen=True)
class Sandbox:
    """Where a task's files are: its agent's base URL and its sandbox directory there."""

    task_id: str
    framework_id: str
    agent_url: str
    directory: str


def agent_get(base_url: str, path: str, params: Mapping[str, Any], timeout: float = 10.0) -> Any:
    """GET a JSON answer from an agent; `CliError` naming the URL on any failure."""
    return http.get_json(base_url, path, timeout, params=params, server="the agent")


def _all_tasks(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in ("frameworks", "completed_frameworks"):
        for fw in state.get(key) or []:
            for tkey in ("tasks", "completed_tasks", "unreachable_tasks"):
                out += [t for t in fw.get(tkey) or [] if isinstance(t, dict)]
    return out


def find_task(state: Mapping[str, Any], text: str) -> dict[str, Any]:
    """The task whose id is `text`, else the only one whose id starts with it."""
    tasks = _all_tasks(state)
    exact = [t for t in tasks if t.get("id") == text]
    if exact:  # a re-run id may appear twice: prefer the running one
        return sorted(exact, key=lambda t: t.get("state") in TERMINAL)[0]
    matches = {str(t.get("id")): t for t in tasks if str(t.get("id", "")).startswith(text)}
    if not matches:
        raise CliError(f"no task with id {text!r}")
    if len(matches) > 1:
        some = ", ".join(sorted(matches)[:5])
        raise CliError(f"task id {text!r} is ambiguous: {len(matches)} tasks match ({some})")
    return next(iter(matches.values()))


def agent_base_url(state: Mapping[str, Any], agent_id: str, scheme: str = "http") -> str:
    """``<scheme>://ip:port`` of an agent, from its ``pid`` (``slave(1)@ip:port``) or
    hostname; `scheme` is the master's (a secure cluster's agents serve https too)."""
    for agent in state.get("slaves") or []:
        if agent.get("id") != agent_id:
            continue
        pid = str(agent.get("pid") or "")
        if "@" in pid:
            return f"{scheme}://" + pid.split("@", 1)[1]
        return f"{scheme}://{agent.get('hostname')}:{agent.get('port')}"
    raise CliError(f"agent {agent_id} is not known to the master (removed?)")


def _executors(agent_state: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Any]]:
    for fkey in ("frameworks", "completed_frameworks"):
        for fw in agent_state.get(fkey) or []:
            for ekey in ("executors", "completed_executors"):
                for ex in fw.get(ekey) or []:
                    yield fw, ex


def task_on_agent(agent_state: Mapping[str, Any], framework_id: str, task_id: str
                  ) -> tuple[str, str] | None:  # fmt: skip
    """(sandbox directory, task state) of the task as its agent reports it, or None."""
    found = None
    for fw, ex in _executors(agent_state):
        if fw.get("id") != framework_id:
            continue
        for tkey in ("tasks", "queued_tasks", "completed_tasks"):
            for t in ex.get(tkey) or []:
                if t.get("id") == task_id and ex.get("directory"):
                    found = (str(ex["directory"]), str(t.get("state", "")))
                    if t.get("state") not in TERMINAL:
                        return found
    return found


def locate(master_state: Mapping[str, Any], text: str,
           master_url: str = "") -> tuple[Sandbox, dict[str, Any]]:  # fmt: skip
    """Find task `text` and its sandbox; returns (sandbox, task JSON from the master, read
    at `master_url`: its scheme is the agents' too)."""
    task = find_task(master_state, text)
    tid, fid = str(task.get("id")), str(task.get("framework_id"))
    scheme = "https" if master_url.startswith("https://") else "http"
    agent_url = agent_base_url(master_state, str(task.get("slave_id")), scheme)
    agent_state = agent_get(agent_url, "/state", {})
    where = task_on_agent(agent_state, fid, tid)
    if where is None:
        raise CliError(f"the agent at {agent_url} no longer has the sandbox of task {tid}")
    return Sandbox(tid, fid, agent_url, where[0]), task


def task_state(sandbox: Sandbox) -> str:
    """The task's state as its agent reports it now ("" when it forgot the task)."""
    where = task_on_agent(agent_get(sandbox.agent_url, "/state", {}), sandbox.framework_id,
                          sandbox.task_id)  # fmt: skip
    return where[1] if where else ""


def file_path(sandbox: Sandbox, name: str) -> str:
    return sandbox.directory.rstrip("/") + "/" + name.lstrip("/")


def file_size(sandbox: Sandbox, path: str) -> int:
    body = agent_get(sandbox.agent_url, "/files/read", {"path": path, "offset": -1})
    return int(body.get("offset", 0))


def read_range(sandbox: Sandbox, path: str, start: int, end: int) -> tuple[str, int]:
    """Text of bytes [start, end) (chunk by chunk) and the offset reached."""
    parts: list[str] = []
    offset = start
    while offset < end:
        body = agent_get(sandbox.agent_url, "/files/read",
                         {"path": path, "offset": offset, "length": min(READ_CHUNK, end - offset)})
        data = str(body.get("data", ""))
        if not data:
            break
        parts.append(data)
        offset += len(data.encode("utf-8"))
    return "".join(parts), offset


def tail(sandbox: Sandbox, path: str, lines: int) -> tuple[str, int]:
    """The last `lines` lines of the file and its size (where following starts)."""
    size = file_size(sandbox, path)
    if lines <= 0:
        return "", size
    window = READ_CHUNK
    while True:
        start = max(0, size - window)
        text, _ = read_range(sandbox, path, start, size)
        body = text if start == 0 else text.split("\n", 1)[-1]  # drop a partial first line
        kept = body.splitlines(keepends=True)
        if len(kept) >= lines or start == 0:
            return "".join(kept[-lines:]), size
        window *= 4


def browse(sandbox: Sandbox, path: str) -> list[dict[str, Any]]:
    body = agent_get(sandbox.agent_url, "/files/browse", {"path": path})
    if not isinstance(body, list):
        raise CliError(f"unexpected answer from {sandbox.agent_url}/files/browse: not a list")
    return body
