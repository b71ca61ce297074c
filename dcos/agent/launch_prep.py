"""What runs before a container starts: `LaunchPrep.prepare`.

Called by the agent shell (`dcos.agent.shell.AgentShell._run_container`) for every `Launch`
its core asks for (a command task, a task-group task, a custom executor), before the
containerizer starts it. In order:

1. its secret references are read (`dcos.agent.task_secrets`; a malformed one fails it);
2. security on (`dcos.agent.security`): its user is found (`dcos.agent.task_user`: the
   TaskInfo's or ExecutorInfo's ``command.user``, the framework's ``user``, else the agent's
   ``--default-task-user``); a user this host lacks fails the launch with a clear message;
3. its ``command.uris`` are fetched into the sandbox (`dcos.agent.fetcher`; a local file the
   user could not read is refused);
4. security on: the sandbox (stdout/stderr included) is given to the user, and the config
   names it (``user``, ``run_as``), so the containerizer starts the process as that user
   (with ``USER``, ``LOGNAME`` and ``HOME`` -- its sandbox -- unless the task sets them);
5. its secrets are resolved from the leading master, the env values put into the launched
   config's environment (only there: the core's config, the checkpoint, ``/state`` and the
   stimulus log keep the references) and the files written (0400, the user's).

The answer is the `ContainerConfig` to launch, or the failed `LaunchResult` saying why (the
task then fails with REASON_CONTAINER_LAUNCH_FAILED). Security off: steps 2 and 4 are
skipped and tasks run as the agent's user, as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.agent.containerizer import ContainerConfig, LaunchResult
from dcos.agent.core import AgentCore, Launch
from dcos.agent.fetcher import FetchLimits, fetch
from dcos.agent.security import AgentSecurity
from dcos.agent.task_secrets import SecretError, resolve, secret_refs, with_env, write_files
from dcos.agent.task_user import TaskUser, UnknownUser, chown_tree, lookup
from dcos.protocol.ids import FrameworkID

Sessions = Callable[[], "tuple[aiohttp.ClientSession | None, aiohttp.ClientSession | None]"]


def user_env(env: dict[str, str], command: dict[str, Any], user: TaskUser,
             sandbox: str) -> dict[str, str]:  # fmt: skip
    """`env` for a process of `user`: ``USER``/``LOGNAME`` its name and ``HOME`` its
    sandbox (the agent's own home is not the task's to write), unless the task sets them."""
    own = {v.get("name") for v in ((command.get("environment") or {}).get("variables") or [])
           if isinstance(v, dict)}  # fmt: skip
    extra = {"USER": user.name, "LOGNAME": user.name, "HOME": sandbox}
    return {**env, **{k: v for k, v in extra.items() if k not in own}}


class LaunchPrep:
    """Made once by the agent shell. `leader_url()`: the base URL of the master the agent
    talks to now; `sessions()`: (the session to the master -- mutual TLS with security on --,
    the fetcher's session), both made by the shell at start."""

    def __init__(self, core: AgentCore, security: AgentSecurity | None, cache_max_bytes: int,
                 leader_url: Callable[[], str | None], sessions: Sessions) -> None:  # fmt: skip
        self.core = core
        self.security = security
        self.cache_max_bytes = cache_max_bytes
        self.leader_url = leader_url
        self.sessions = sessions

    async def prepare(self, action: Launch) -> ContainerConfig | LaunchResult:
        """What runs before a container starts: with security on, the task's user (unknown:
        the launch fails), the fetch of its URIs (as that user may), the sandbox given to the
        user; then its secrets (env values into the config's environment only, files into
        the sandbox). The config to launch, or the failed `LaunchResult` saying why."""
        config = action.config
        user: TaskUser | None = None
        command, container, framework_info = self.launch_info(action)
        try:
            refs = secret_refs(command, container)
            if self.security is not None:
                user = lookup(self.security.task_user(command, framework_info))
                own = os.geteuid()
                if own != 0 and user.uid != own:
                    raise UnknownUser(f"this agent runs as uid {own}, not root: it cannot run "
                                      f"tasks as user '{user.name}'")  # fmt: skip
        except (SecretError, UnknownUser) as exc:
            return LaunchResult(False, f"Failed to launch: {exc}")
        fetched = await self.fetch(action, user)
        if not fetched.ok:
            return fetched
        if user is not None:
            assert self.security is not None
            await asyncio.to_thread(self.give_sandbox, config.sandbox, user)
            config = dataclasses.replace(config, user=user.name, run_as=(
                None if user.uid == os.geteuid() else user.run_as()),  # no switch to oneself
                env=user_env(config.env, command, user, config.sandbox))
        if refs:
            session = self.sessions()[0]
            assert session is not None, "prepare before the agent started"
            try:
                values = await resolve(session, self.leader_url(), refs.paths())
                config = dataclasses.replace(config, env=with_env(config.env, refs, values))
                await asyncio.to_thread(write_files, config.sandbox, refs, values,
                                        user.uid if user else None, user.gid if user else None)
            except SecretError as exc:
                return LaunchResult(False, f"Failed to launch: {exc}")
        return config

    def launch_info(self, action: Launch) -> tuple[dict[str, Any], Any, dict[str, Any] | None]:
        """(CommandInfo, ContainerInfo, FrameworkInfo) of what `action` starts: a task's, or
        a custom executor's."""
        cid = action.container_id
        container: Any = None
        rec = self.core.task_record(cid)
        if rec is not None:
            container = rec.task.get("container")
        else:
            ex = self.core.supervisor.by_container.get(cid)
            if ex is not None:
                container = ex.info.get("container")
        fw = self.core.frameworks.get(FrameworkID(action.config.framework_id))
        return action.config.command, container, fw.info if fw is not None else None

    def give_sandbox(self, sandbox: str, user: TaskUser) -> None:
        """Blocking: the sandbox (and the run directory above a task group's task
        sandbox) to `user`, stdout/stderr made first so that they are the user's too."""
        assert self.security is not None
        self.security.refresh_ca_copy()
        os.makedirs(sandbox, exist_ok=True)
        for name in ("stdout", "stderr"):
            fd = os.open(os.path.join(sandbox, name),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)  # fmt: skip
            os.close(fd)
        chown_tree(sandbox, user)
        parent = os.path.dirname(sandbox)
        if os.path.basename(parent) == "tasks":  # <executor run dir>/tasks/<task id>
            for d in (parent, os.path.dirname(parent)):
                os.chown(d, user.uid, user.gid, follow_symlinks=False)

    async def fetch(self, action: Launch, user: TaskUser | None = None) -> LaunchResult:
        """Download the task's ``command.uris`` into its sandbox (before the launch)."""
        uris = action.config.command.get("uris")
        if not uris:
            return LaunchResult(True)
        cache_dir = os.path.join(self.core.work_dir, "fetcher-cache")
        limits = FetchLimits(cache_max_bytes=self.cache_max_bytes)
        fetched = await fetch(uris, action.config.sandbox, cache_dir, session=self.sessions()[1],
                              limits=limits, user=user)  # fmt: skip
        return LaunchResult(fetched.ok, fetched.error)
