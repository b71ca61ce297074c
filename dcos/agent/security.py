"""The agent with security on (``--security-dir``): `AgentSecurity`.

Made by the agent shell (`dcos.agent.shell.AgentShell`) from `AgentConfig.security_dir` and
``tls_name`` (default ``agent``); None when security is off, and then nothing here is used.
It holds the `dcos.security.SecurityContext` and carries out the agent's side of the
cluster's security contracts:

- transport: the HTTP server speaks TLS (`server_ssl`, client certificates optional: executors
  have none and keep their executor tokens); calls to the master use mutual TLS (`connector`,
  the agent's certificate, kind ``agent``, which the master's agent channel requires); the
  fetcher verifies https downloads against the system's CAs and the cluster's
  (`fetch_connector`). `start` runs the `CertReloader` (rotation without restart) and a
  `PolicyFeed` (ACLs and revocations from the leading master).
- authentication: `middleware` (`dcos.security.http.auth_middleware`, Mesos' plain-text
  errors) on every route but `OPEN_PATHS`: ``/health``, ``/openapi.json`` and the executor
  API (authenticated by the executors' own tokens, `dcos.agent.executor_auth`).
- authorization: `may_access_sandbox` (``access_sandboxes`` on the files API, the object is the
  user the sandbox belongs to) and `filter_state` (``view_frameworks`` / ``view_tasks`` on
  ``/state``).
- tasks as users: `task_user` (the TaskInfo's user, the framework's, else
  ``--default-task-user``, ``nobody`` by default) and `task_env` (what every task and executor
  is told: ``DCOS_CA_FILE`` -- a copy of the CA bundle its user can read, under
  ``<work_dir>/tls`` --, ``LIBPROCESS_SSL_ENABLED``, ``LIBPROCESS_SSL_CA_FILE``; see
  findings13.md for the contract with the SDK's executor driver).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import ssl
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from dcos.agent.task_user import DEFAULT_TASK_USER, setup_problems, task_user_name
from dcos.security.acls import Action
from dcos.security.context import SecurityContext, load_context
from dcos.security.http import PolicyFeed, auth_middleware, forbidden_message
from dcos.security.principal import Identity

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({
    "/health", "/slave(1)/health", "/openapi.json",
    "/api/v1/executor", "/slave(1)/api/v1/executor",  # executor tokens (executor_auth)
})  # fmt: skip
CA_COPY_DIR = "tls"
CA_FILE_ENV = "DCOS_CA_FILE"
AGENT_URL_ENV = "DCOS_AGENT_URL"


def plain_error(status: int, message: str) -> web.Response:
    """A Mesos-style error: the status and a plain-text message."""
    return web.Response(status=status, text=message + "\n")


class AgentSecurity:
    """See the module docstring. Raises FileNotFoundError / ValueError for a security
    directory that lacks the agent's certificate or holds a bad acls.json."""

    def __init__(self, security_dir: str, tls_name: str, work_dir: str,
                 default_task_user: str | None = None) -> None:  # fmt: skip
        self.ctx: SecurityContext = load_context(Path(security_dir), tls_name)
        self.default_task_user = default_task_user or DEFAULT_TASK_USER
        self.ca_copy = os.path.join(os.path.abspath(work_dir), CA_COPY_DIR, "ca.crt")
        self._ca_stamp: tuple[int, int] | None = None
        self._feed: PolicyFeed | None = None
        self.refresh_ca_copy()
        for problem in setup_problems(self.default_task_user, os.path.abspath(work_dir),
                                      sys.executable):  # fmt: skip
            log.warning("%s", problem)

    # -- transport -------------------------------------------------------------------------

    @property
    def server_ssl(self) -> ssl.SSLContext:
        return self.ctx.server_ssl

    def connector(self) -> aiohttp.TCPConnector:
        """The connector of the agent's session to the master (mutual TLS)."""
        return aiohttp.TCPConnector(limit=0, ssl=self.ctx.client_ssl)

    def fetch_connector(self) -> aiohttp.TCPConnector:
        """The fetcher's connector: the system's CAs and the cluster's, no client
        certificate (a URI's server gets nothing that proves the agent)."""
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(self.ctx.ca_file))
        if self.ctx.reloader is not None:  # a rotated CA is trusted here too
            self.ctx.reloader.verify_only.append(context)
        return aiohttp.TCPConnector(ssl=context)

    def start(self, session: aiohttp.ClientSession, leader: Callable[[], str | None]) -> None:
        """Start the certificate reloader and the policy feed (`leader`: the URL of the
        master the agent talks to now). Called by `AgentShell.start`."""
        if self.ctx.reloader is not None:
            self.ctx.reloader.start()
        self._feed = PolicyFeed(self.ctx, leader, session)
        self._feed.start()

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
            self._feed = None
        if self.ctx.reloader is not None:
            await self.ctx.reloader.stop()

    # -- what tasks are told ---------------------------------------------------------------

    def refresh_ca_copy(self) -> str:
        """The path of a world-readable copy of the CA bundle (the security directory is
        0700), copied again when the bundle changed (a rotation). Blocking, cheap (a stat)."""
        try:
            st = os.stat(self.ctx.ca_file)
        except OSError as exc:
            log.warning("cannot read the CA bundle %s: %s", self.ctx.ca_file, exc)
            return self.ca_copy
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._ca_stamp or not os.path.exists(self.ca_copy):
            os.makedirs(os.path.dirname(self.ca_copy), mode=0o755, exist_ok=True)
            tmp = f"{self.ca_copy}.{os.getpid()}.tmp"
            shutil.copyfile(self.ctx.ca_file, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.ca_copy)
            self._ca_stamp = stamp
        return self.ca_copy

    def task_env(self) -> dict[str, str]:
        """The variables every task and executor gets (added to the base environment)."""
        return {CA_FILE_ENV: self.ca_copy, "LIBPROCESS_SSL_ENABLED": "true",
                "LIBPROCESS_SSL_CA_FILE": self.ca_copy}  # fmt: skip

    def task_user(self, command: Mapping[str, Any] | None,
                  framework_info: Mapping[str, Any] | None) -> str:  # fmt: skip
        return task_user_name(command, framework_info, self.default_task_user)

    # -- authentication and authorization --------------------------------------------------

    def middleware(self) -> Any:
        return auth_middleware(self.ctx, error=plain_error, open_paths=OPEN_PATHS)

    def may_access_sandbox(self, who: Identity, owner_uid: int) -> str | None:
        """None when `who` may read a sandbox owned by `owner_uid` (``access_sandboxes``,
        object: that user's name), else the 403 message."""
        try:
            user = pwd.getpwuid(owner_uid).pw_name
        except KeyError:
            user = str(owner_uid)
        if self.ctx.allows(who, Action.ACCESS_SANDBOXES, user):
            return None
        return forbidden_message(who, Action.ACCESS_SANDBOXES, user)

    def filter_state(self, who: Identity, state: dict[str, Any],
                     users: Mapping[tuple[str, str], str]) -> dict[str, Any]:  # fmt: skip
        """``/state`` as `who` may see it: frameworks it may view (``view_frameworks``, the
        framework's user) with the tasks it may view (``view_tasks``, `users`: (framework
        id, task id) -> the task's user)."""
        seen: dict[str, bool] = {}

        def may(action: Action, obj: str) -> bool:
            key = f"{action}\x00{obj}"
            if key not in seen:
                seen[key] = self.ctx.acls.allows(action, who.principal, obj)
            return seen[key]

        def tasks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [t for t in items if may(Action.VIEW_TASKS, users.get(
                (str(t.get("framework_id", "")), str(t.get("id", ""))), self.default_task_user))]

        out = dict(state)
        for key in ("frameworks", "completed_frameworks"):
            kept = []
            for fw in state.get(key) or []:
                if not may(Action.VIEW_FRAMEWORKS, str(fw.get("user") or "")):
                    continue
                fw = dict(fw)
                for ekey in ("executors", "completed_executors"):
                    executors = []
                    for ex in fw.get(ekey) or []:
                        ex = dict(ex)
                        for tkey in ("tasks", "queued_tasks", "completed_tasks"):
                            ex[tkey] = tasks(ex.get(tkey) or [])
                        executors.append(ex)
                    fw[ekey] = executors
                kept.append(fw)
            out[key] = kept
        return out
