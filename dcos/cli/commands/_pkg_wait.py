"""What `dcos-py package install|update` shows after the package service answered: progress
until the installed app (or every app of the installed group) runs and is healthy, and for
`install --dry-run` the webapp's answer to "does it fit now?" (`POST /v2/fit`).

An app is ready when `tasksHealthy` (apps with health checks) or `tasksRunning` (apps without)
reaches its `instances` and no deployment of it is running; a group when every app in it is.

Called by: `dcos.cli.commands.package`. `readiness` and `fit_lines` are pure (JSON in, text
out); `find_apps` and `wait_ready` poll the webapp through `WebappClient`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dcos.cli.commands.deployment import WebappClient, app_path
from dcos.cli.errors import CliError, Rejected, TimedOut

Json = dict[str, Any]


@dataclass(frozen=True)
class Readiness:
    """Where an installed app or group stands: `ready` of `wanted` instances (summed over its
    apps), `done` when every app is ready, `detail` one short line per app."""

    ready: int
    wanted: int
    done: bool
    detail: str


def _app_ready(app: Json) -> tuple[int, int, bool]:
    wanted = int(app.get("instances") or 0)
    counted = app.get("tasksHealthy") if app.get("healthChecks") else app.get("tasksRunning")
    ready = min(int(counted or 0), wanted)
    return ready, wanted, ready >= wanted and not app.get("deployments")


def readiness(apps: list[Json]) -> Readiness:
    """The readiness of `apps` (the installed app, or the apps of the installed group)."""
    ready = wanted = 0
    done = bool(apps)
    parts = []
    for app in apps:
        r, w, ok = _app_ready(app)
        ready, wanted, done = ready + r, wanted + w, done and ok
        what = "healthy" if app.get("healthChecks") else "running"
        parts.append(f"{app.get('id', '?')} {r}/{w} {what}")
    return Readiness(ready, wanted, done, ", ".join(parts) or "no apps yet")


def group_apps(group: Json) -> list[Json]:
    """Every app of a `/v2/groups/<id>` body, nested groups included."""
    out = [a for a in group.get("apps") or [] if isinstance(a, dict)]
    for sub in group.get("groups") or []:
        if isinstance(sub, dict):
            out.extend(group_apps(sub))
    return out


def find_apps(c: WebappClient, app_id: str) -> list[Json] | None:
    """The app `app_id` as a one-element list, else the apps of the group `app_id`; None when
    the webapp has neither (yet)."""
    try:
        body = c.get(app_path(app_id))
        if isinstance(body, dict) and isinstance(body.get("app"), dict):
            return [body["app"]]
    except Rejected as exc:
        if exc.status != 404:
            raise
    try:
        group = c.get("/v2/groups/" + app_id.strip("/"))
    except Rejected as exc:
        if exc.status == 404:
            return None
        raise
    return group_apps(group) if isinstance(group, dict) else None


def wait_ready(c: WebappClient, app_id: str, out: Console, timeout_s: float,
               poll_s: float = 0.25, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> Readiness:
    """Show a progress bar until `app_id` (app or group) is ready; its final `Readiness`.

    Raises `TimedOut` (exit 5) after `timeout_s`, saying how far it got and where to look;
    `CliError` when the app disappears (removed while waiting)."""
    deadline = clock() + timeout_s
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                        console=out, transient=True)
    seen = False
    with progress:
        bar = progress.add_task(f"waiting for {app_id}", total=1, detail="")
        while True:
            apps = find_apps(c, app_id)
            if apps is None and seen:
                raise CliError(f"{app_id} was removed while waiting for it to become healthy")
            state = readiness(apps or [])
            seen = seen or apps is not None
            progress.update(bar, total=max(state.wanted, 1), completed=state.ready,
                            detail=state.detail)
            if state.done:
                return state
            if clock() >= deadline:
                raise TimedOut(f"{app_id} is not running and healthy after {timeout_s:g} s "
                               f"({state.detail}); see dcos-py app why <app id>")
            sleep(poll_s)


def _reason_text(reason: Any) -> str:
    """A `/v2/fit` reason: its sentence, then Marathon's code and how many agents refused."""
    if not isinstance(reason, dict):
        return str(reason)
    extra = []
    if reason.get("code"):
        extra.append(str(reason["code"]))
    if isinstance(reason.get("agents"), int):
        extra.append(f"{reason['agents']} agent(s)")
    return str(reason.get("reason", "?")) + (f" ({', '.join(extra)})" if extra else "")


def fit_lines(answer: Json) -> tuple[bool, list[str]]:
    """(fits, lines) from a `POST /v2/fit` answer: one line per app, and each reason an app
    cannot be placed (which resource, which constraint)."""
    fits = bool(answer.get("fits"))
    agents = answer.get("agents")
    where = f" (on {agents} agent(s))" if isinstance(agents, int) else ""
    lines = [("fits now: yes" if fits else "fits now: no") + where]
    for app in answer.get("apps") or []:
        if not isinstance(app, dict):
            continue
        placeable, wanted = app.get("placeable", "?"), app.get("instances", "?")
        lines.append(f"  {app.get('id', '?')}: {placeable} of {wanted} instance(s) placeable now")
        for reason in app.get("reasons") or []:
            lines.append(f"    - {_reason_text(reason)}")
    return fits, lines
