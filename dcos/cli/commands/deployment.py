"""`dcos-py deployment list|watch|rollback|stop`, and what every webapp command shares: where
the webapp API is, a small JSON client for it (Marathon's error bodies become one line), and the
progress display while a deployment runs (`wait_for_deployment`, used by `app ... --wait`).

The webapp URL comes from `--webapp` (or env `DCOS_WEBAPP`), then the config file, then
http://127.0.0.1:8080 (`dcos.cli.config.resolve_webapp`).
Called by: `dcos.cli.main` (this Typer app) and `dcos.cli.commands.app`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Annotated, Any
from urllib.parse import quote

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dcos.cli import http
from dcos.cli.commands._common import (
    JsonOpt,
    command_group,
    console,
    one_line_errors,
    print_json,
)
from dcos.cli.config import ENV_WEBAPP, resolve_webapp
from dcos.cli.errors import CliError, TimedOut

DEFAULT_WAIT_S = 600.0

WebappOpt = Annotated[str | None, typer.Option(
    "--webapp", envvar=ENV_WEBAPP, show_envvar=True, show_default=False,
    help="Webapp API URL (default: the config file's webapp, then http://127.0.0.1:8080).")]


def app_path(app_id: str) -> str:
    """`/v2/apps` path of an app id (`web` and `/shop/web` both work)."""
    return "/v2/apps/" + quote(app_id.strip("/"), safe="/")


@dataclass
class WebappClient:
    """Synchronous JSON calls to the webapp API; every failure is a one-line `CliError`."""

    base: str
    timeout: float = 10.0

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """`method path` with a JSON `body`; the decoded answer (None when empty)."""
        return http.request(method, self.base + path, body, timeout=self.timeout,
                            server="the webapp", base=self.base)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def deployments(self) -> list[dict[str, Any]]:
        body = self.get("/v2/deployments")
        if not isinstance(body, list):
            raise CliError(f"unexpected answer from {self.base}/v2/deployments: not a list")
        return body


def client(flag: str | None) -> WebappClient:
    return WebappClient(resolve_webapp(flag))


# -- waiting for a deployment --------------------------------------------------------------


@dataclass
class DeploymentEvents:
    """Listens to `/v2/events` in a thread for the end of deployments (success or failure), so
    `wait_for_deployment` can tell a failed deployment from a finished one. Start it before the
    request that creates the deployment; without a stream, waiting falls back to polling."""

    base: str
    ended: dict[str, str] = field(default_factory=dict)  # deployment id -> event type
    attached: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _tried: threading.Event = field(default_factory=threading.Event)

    def start(self, attach_timeout_s: float = 2.0) -> DeploymentEvents:
        """Open the stream in a thread; return once it is attached (or failed, or timed out)."""
        threading.Thread(target=self._run, daemon=True).start()
        self._tried.wait(attach_timeout_s)
        return self

    def _run(self) -> None:
        url = self.base + "/v2/events?event_type=deployment_success&event_type=deployment_failed"
        try:
            for event in http.sse_events(url, DEFAULT_WAIT_S, on_attached=self._attached):
                if self._stop.is_set():
                    return
                self._note(event.data)
        except (OSError, HTTPException, ValueError):
            return
        finally:
            self._tried.set()

    def _attached(self) -> None:
        self.attached = True
        self._tried.set()

    def _note(self, data: str) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict) and event.get("eventType") in ("deployment_success",
                                                                  "deployment_failed"):
            self.ended[str(event.get("id"))] = str(event["eventType"])

    def stop(self) -> None:
        self._stop.set()


def _app_progress(c: WebappClient, app_id: str) -> tuple[int, int, str]:
    """(tasks of the current version running and healthy, target instances, summary)."""
    try:
        app = c.get(app_path(app_id) + "?embed=app.tasks").get("app", {})
    except CliError:
        return 0, 0, "removed"
    version, target = app.get("version"), int(app.get("instances") or 0)
    checks = bool(app.get("healthChecks"))
    ready = 0
    for t in app.get("tasks") or []:
        alive = all(r.get("alive") for r in t.get("healthCheckResults") or []) and (
            not checks or bool(t.get("healthCheckResults")))
        if t.get("version") == version and t.get("state", "TASK_RUNNING") == "TASK_RUNNING" \
                and alive:
            ready += 1
    total = len(app.get("tasks") or [])
    return ready, target, f"{ready}/{target} ready, {total} task(s)"


def _await_end_event(events: DeploymentEvents | None, deployment_id: str,
                     sleep: Callable[[float], None], grace_s: float = 1.0) -> None:
    """The deployment left the listing: give its success/failed event up to `grace_s` to
    arrive (it may lag the listing) and raise `CliError` when it failed."""
    if events is None or not events.attached:
        return
    for _ in range(int(grace_s / 0.05)):
        ended = events.ended.get(deployment_id)
        if ended == "deployment_failed":
            raise CliError(f"deployment {deployment_id} failed")
        if ended is not None:
            return
        sleep(0.05)


def wait_for_deployment(c: WebappClient, deployment_id: str, out: Console,
                        events: DeploymentEvents | None = None,
                        timeout_s: float = DEFAULT_WAIT_S, poll_s: float = 0.25,
                        sleep: Callable[[float], None] = time.sleep) -> None:
    """Show a progress bar per affected app until the deployment is gone from
    `/v2/deployments`; `CliError` when it failed (a `deployment_failed` event) or timed out."""
    deadline = time.monotonic() + timeout_s
    progress = Progress(TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                        console=out, transient=True)
    bars: dict[str, Any] = {}
    with progress:
        while True:
            current = next((d for d in c.deployments() if d.get("id") == deployment_id), None)
            ended = events.ended.get(deployment_id) if events else None
            if ended == "deployment_failed":
                raise CliError(f"deployment {deployment_id} failed")
            if current is None:
                _await_end_event(events, deployment_id, sleep)
                break
            step = f"step {current.get('currentStep', '?')}/{current.get('totalSteps', '?')}"
            for app_id in current.get("affectedApps") or []:
                ready, target, detail = _app_progress(c, app_id)
                if app_id not in bars:
                    bars[app_id] = progress.add_task(app_id, total=max(target, 1), detail="")
                progress.update(bars[app_id], total=max(target, 1), completed=ready,
                                detail=f"{detail} ({step})")
            if time.monotonic() > deadline:
                raise TimedOut(f"deployment {deployment_id} still running after {timeout_s:g} s")
            sleep(poll_s)


def deploy_and_wait(c: WebappClient, request: Callable[[], Any], wait: bool, as_json: bool,
                    what: str, timeout_s: float = DEFAULT_WAIT_S) -> Any:
    """Run `request` (which answers `{"deploymentId", ...}` or an app with `deployments`),
    print the result (JSON or one line), and with `wait` follow the deployment to its end."""
    events = DeploymentEvents(c.base).start() if wait else None
    try:
        result = request()
        deployment_id = deployment_of(result)
        if as_json:
            print_json(result)
        else:
            suffix = f" (deployment {deployment_id})" if deployment_id else ""
            console().print(f"{what}{suffix}", markup=False, highlight=False)
        if wait and deployment_id:
            wait_for_deployment(c, deployment_id, Console(stderr=True), events, timeout_s)
            if not as_json:
                console().print(f"deployment {deployment_id} finished", markup=False)
        return result
    finally:
        if events is not None:
            events.stop()


def deployment_of(result: Any) -> str | None:
    """The deployment id in an API answer: `deploymentId`, or an app's `deployments[0].id`."""
    if not isinstance(result, dict):
        return None
    if result.get("deploymentId"):
        return str(result["deploymentId"])
    deps = result.get("deployments")
    if isinstance(deps, list) and deps and isinstance(deps[0], dict) and deps[0].get("id"):
        return str(deps[0]["id"])
    return None


# -- commands ------------------------------------------------------------------------------

app = command_group("Deployments of the webapp framework (Marathon-like).")


def deployment_table(deployments: list[dict[str, Any]]) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("ID", "APPS", "STEP", "ACTIONS", "VERSION"):
        table.add_column(column, overflow="fold")
    for d in deployments:
        actions = [f"{a.get('action') or a.get('type')} {a.get('app', '')}".strip()
                   for a in d.get("currentActions") or []]
        table.add_row(str(d.get("id", "-")), ",".join(d.get("affectedApps") or []) or "-",
                      f"{d.get('currentStep', '-')}/{d.get('totalSteps', '-')}",
                      "; ".join(actions) or "-", str(d.get("version", "-")))
    return table


@app.command("list")
@one_line_errors
def list_deployments(webapp: WebappOpt = None, json: JsonOpt = False,
                     app_id: Annotated[str | None, typer.Option(
                         "--app", help="Only deployments affecting this app.")] = None) -> None:
    """List the running deployments: id, apps, step, current actions, version."""
    deployments = client(webapp).deployments()
    if app_id:
        wanted = "/" + app_id.strip("/")
        deployments = [d for d in deployments if wanted in (d.get("affectedApps") or [])]
    if json:
        print_json(deployments)
    else:
        console().print(deployment_table(deployments))


@app.command("watch")
@one_line_errors
def watch(deployment_id: str, webapp: WebappOpt = None, json: JsonOpt = False,
          timeout: Annotated[float, typer.Option("--timeout", help="Seconds.")] = DEFAULT_WAIT_S
          ) -> None:
    """Follow a deployment with a progress display until it ends (exit 1 if it failed)."""
    c = client(webapp)
    if not any(d.get("id") == deployment_id for d in c.deployments()):
        raise CliError(f"deployment {deployment_id} is not running")
    events = DeploymentEvents(c.base).start()
    try:
        wait_for_deployment(c, deployment_id, Console(stderr=True), events, timeout)
    finally:
        events.stop()
    if json:
        print_json({"id": deployment_id, "finished": True})
    else:
        console().print(f"deployment {deployment_id} finished", markup=False)


@app.command("rollback")
@one_line_errors
def rollback(deployment_id: str, webapp: WebappOpt = None, json: JsonOpt = False,
             wait: Annotated[bool, typer.Option("--wait", help="Wait for the rollback.")] = False
             ) -> None:
    """Cancel a deployment and start one that restores the previous state."""
    c = client(webapp)
    deploy_and_wait(c, lambda: c.call("DELETE", f"/v2/deployments/{quote(deployment_id)}"),
                    wait, json, f"rolling back deployment {deployment_id}")


@app.command("stop")
@one_line_errors
def stop(deployment_id: str, webapp: WebappOpt = None, json: JsonOpt = False) -> None:
    """Stop a deployment where it is, without rolling back (`force=true`)."""
    c = client(webapp)
    c.call("DELETE", f"/v2/deployments/{quote(deployment_id)}?force=true")
    if json:
        print_json({"id": deployment_id, "stopped": True})
    else:
        console().print(f"deployment {deployment_id} stopped", markup=False)


def read_json_arg(source: str) -> Any:
    """JSON from a file path, or from stdin for `-`; `CliError` for unreadable or bad JSON."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"{'stdin' if source == '-' else source} is not valid JSON: {exc}") from None
