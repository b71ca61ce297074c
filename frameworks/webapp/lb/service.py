"""The load balancer shell: follows the webapp's events, regenerates the HAProxy config,
validates it, writes it atomically and reloads HAProxy seamlessly.

After each resync (`GET /v2/apps?embed=apps.tasks`, driven by `/v2/events` through
`dcos.common.sse.EventFollower`): generate the config. If only servers differ from the live one
(tasks coming, turning healthy, draining while being killed, gone), change them through the
runtime API and write the config, with no reload (`frameworks.webapp.lb.runtime`). Otherwise
write it to a temporary file, `haproxy -c` it, rename it over `haproxy.cfg` and SIGUSR2 the
master. When
HAProxy rejects a config, each app's part is checked alone and the apps it rejects are skipped
(with HAProxy's reason), so one bad app never stops updates for the others. `status.json` in
the work dir records the services (servers ready, waiting, draining), the skipped apps and
why, and the reload count.

The webapp may run as several instances (`--webapp http://a:8080,http://b:8080`): reads and
the event stream go to whichever answers (`dcos.common.sse.WebappEndpoints`; followers proxy to
the leader). While none answers (a failover), the resync fails before anything is applied, so
HAProxy keeps its current config and servers (never a reload to an empty backend set); the
follower retries and the first instance that answers brings the config up to date.

Called by: `python -m frameworks.webapp.lb` (`run_lb`), integration tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from dcos.common.sse import EventFollower, SyncPolicy, WebappEndpoints, fetch_apps_any
from dcos.sdk.util import atomic_write
from frameworks.webapp.lb.config import (
    Generated,
    LbOptions,
    generate,
    structure,
)
from frameworks.webapp.lb.haproxy import HAProxy
from frameworks.webapp.lb.runtime import Live, Servers, failed, live_servers, server_commands

log = logging.getLogger(__name__)


class LoadBalancer:
    """Owns one HAProxy and keeps its config equal to what the apps ask for. `webapp`: one
    webapp URL, several (a list or comma-separated), or shared `WebappEndpoints`."""

    def __init__(self, webapp: str | Sequence[str] | WebappEndpoints, opts: LbOptions,
                 work_dir: Path, haproxy_bin: str, debounce_s: float = 0.2,
                 full_every_s: float = 60.0, ssl_context: ssl.SSLContext | None = None) -> None:
        """`ssl_context` (security on): the client context the webapp is read with (mutual TLS
        with the LB's certificate; ``--webapp`` URLs are then https)."""
        self.ssl_context = ssl_context
        self.webapps = WebappEndpoints.of(webapp)
        self.work_dir = work_dir.resolve()
        self.haproxy = HAProxy(haproxy_bin, self.work_dir)
        self.opts = LbOptions(**{**opts.__dict__, "socket_path": str(self.haproxy.stats_socket)})
        self.follower = EventFollower(self.webapps, self.resync, policy=SyncPolicy(
            debounce_s=debounce_s, full_every_s=full_every_s),
            on_event=lambda e: log.debug("event %s", e.event_type), ssl_context=ssl_context)
        self.current: Generated | None = None
        self.live: Servers = {}  # the servers the running HAProxy worker has
        self.reloads = 0
        self.rejected: dict[str, str] = {}  # app id -> HAProxy's reason, for the current apps
        self._logged_skips: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start HAProxy on a config with no apps (the stats/health port answers), then follow
        the webapp's events."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), trust_env=False,
                                              connector=aiohttp.TCPConnector(ssl=self.ssl_context or True))  # fmt: skip
        empty = generate([], self.opts)
        problem = await self._write_checked(empty.text)
        if problem is not None:
            raise RuntimeError(f"haproxy rejects the base config: {problem}")
        atomic_write(self.haproxy.config_path, empty.text.encode())
        await self.haproxy.start()
        self.current = empty
        self._write_status()
        self._task = asyncio.create_task(self.follower.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.haproxy.stop()
        if self._session is not None:
            await self._session.close()

    @property
    def webapp(self) -> str:
        """The webapp instance in use (the one that answered last)."""
        return self.webapps.current

    async def resync(self) -> None:
        """Re-read the apps (from the first instance that answers) and apply them. The
        follower calls this; raising (no instance answered) means retry, and HAProxy keeps
        what it has meanwhile."""
        assert self._session is not None
        await self.apply(await fetch_apps_any(self._session, self.webapps))

    async def apply(self, apps: list[dict[str, Any]]) -> bool:
        """Make HAProxy serve `apps`; True when a reload happened."""
        async with self._lock:
            ids = {str(a.get("id")) for a in apps if isinstance(a, dict)}
            self.rejected = {k: v for k, v in self.rejected.items() if k in ids}
            gen = generate(apps, self.opts, exclude=self.rejected)
            if self.current is not None and gen.text == self.current.text:
                log.debug("resync: config unchanged")
                self._log_skips(gen)
                return False
            if self.current is not None and structure(gen.text) == structure(self.current.text) \
                    and await self._change_servers(gen):
                return False
            problem = await self._write_checked(gen.text)
            if problem is not None:
                log.warning("haproxy rejects the new config (%s); checking apps one by one", problem)
                await self._find_rejected(apps)
                gen = generate(apps, self.opts, exclude=self.rejected)
                problem = await self._write_checked(gen.text)
                if problem is not None:  # should not happen: keep serving the old config
                    log.error("haproxy still rejects the config: %s; keeping the old one", problem)
                    return False
            self._log_skips(gen)
            atomic_write(self.haproxy.config_path, gen.text.encode())
            ok = await self.haproxy.reload()
            if not ok:
                log.error("haproxy did not confirm the reload (see %s)", self.haproxy.log_path)
            self.current = gen
            self.live = live_servers(gen.services)
            self.reloads += 1
            self._write_status()
            log.info("haproxy reloaded: %d service(s) with %d server(s), %d app(s) skipped",
                     len(gen.services), sum(len(s.servers) for s in gen.services),
                     len(self.skipped(gen)))
            return ok

    async def _change_servers(self, new: Generated) -> bool:
        """Only servers changed: add, change and remove them through the runtime API (at once,
        no reload; `frameworks.webapp.lb.runtime`) and write the config for the next reload.
        False when a backend cannot take the change at run time or HAProxy refused a command
        (the caller then reloads). A server HAProxy will not delete yet (connections left) stays
        in maintenance, and its deletion is tried again at the next change."""
        commands = server_commands(self.live, new.services)
        if commands is None:
            return False
        lingering: Servers = {}
        for command in commands:
            answer = await self.haproxy.runtime(command)
            if not failed(command, answer):
                continue
            reason = (answer or "no answer").strip()
            if command.startswith("del server"):
                backend, server = command.removeprefix("del server ").split("/", 1)
                old = self.live[(backend, server)]
                lingering[(backend, server)] = Live(backend, replace(old.server, enabled=False,
                                                                      draining=False), old.checked)
                log.info("%s: %s (left in maintenance, deleted later)", command, reason)
                continue
            log.warning("runtime API: %s failed (%s); reloading instead", command, reason)
            return False
        atomic_write(self.haproxy.config_path, new.text.encode())
        self.current = new
        self.live = {**lingering, **live_servers(new.services)}
        self._write_status()
        log.info("haproxy servers changed through the runtime API (no reload): %d command(s)",
                 len(commands))
        return True

    def skipped(self, gen: Generated) -> dict[str, str]:
        return {**gen.skipped, **{k: f"haproxy rejected its config: {v}"
                                  for k, v in self.rejected.items()}}

    async def _write_checked(self, text: str) -> str | None:
        """Write `text` to the candidate file and `haproxy -c` it; None when valid."""
        candidate = self.work_dir / "haproxy.cfg.new"
        atomic_write(candidate, text.encode())
        return await self.haproxy.check(candidate)

    async def _find_rejected(self, apps: list[dict[str, Any]]) -> None:
        """Check each app's part of the config alone; remember those HAProxy rejects."""
        for app in apps:
            app_id = str(app.get("id"))
            if app_id in self.rejected:
                continue
            gen = generate([app], self.opts)
            if not gen.services:
                continue
            problem = await self._write_checked(gen.text)
            if problem is not None:
                self.rejected[app_id] = problem

    def _log_skips(self, gen: Generated) -> None:
        skips = self.skipped(gen)
        for app_id, reason in skips.items():
            if self._logged_skips.get(app_id) != reason:
                log.warning("app %s skipped: %s", app_id, reason)
        for warning in gen.warnings:
            log.debug("%s", warning)
        self._logged_skips = skips

    def _write_status(self) -> None:
        gen = self.current
        if gen is None:
            return
        status = {
            "reloads": self.reloads,
            "services": [{"app": s.app_id, "name": s.name, "port": s.spec.service_port,
                          "mode": s.spec.mode, "vhosts": list(s.spec.vhosts),
                          "servers": [f"{v.host}:{v.port}" for v in s.servers if v.state == "ready"],
                          "waiting": [f"{v.host}:{v.port}" for v in s.servers if v.state == "maint"],
                          "draining": [f"{v.host}:{v.port}" for v in s.servers if v.draining]}
                         for s in gen.services],
            "skipped": self.skipped(gen),
        }
        atomic_write(self.work_dir / "status.json", orjson.dumps(status, option=orjson.OPT_INDENT_2))


async def run_lb(lb: LoadBalancer, stop: asyncio.Event) -> None:
    """Serve until `stop` is set or HAProxy dies (the `python -m frameworks.webapp.lb` main)."""
    try:
        await lb.start()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if not lb.haproxy.running:
                raise RuntimeError(f"haproxy exited (see {lb.haproxy.log_path})")
    finally:
        await lb.stop()
