"""The driver's job page (aiohttp, plain HTML, no third-party JS or CSS).

Started by `ClusterBackend.start` with a function returning the page's data
(`ClusterBackend.page_snapshot`), so this module needs nothing of the backend; its URL is the
framework's ``webui_url``.

- ``GET /``           the page: why the driver is waiting for executors (if it is), the
                      executors, then each job with its stages (task counts, a progress
                      bar, durations, failures); refreshes itself every 2 s
- ``GET /api/jobs``   the same as JSON (`JobTracker.snapshot` + ``executors`` + ``app_id``,
                      ``framework_id``, ``pending_tasks``, ``waiting``),
                      polled by ``dcos-py batch status --watch`` / ``submit --wait``
- ``GET /health``     200
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

Snapshot = Callable[[], dict[str, Any]]

_STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.bar{width:160px;height:12px;background:#eee;border:1px solid #bbb}
.fill{height:12px;background:#4a8}.failed{color:#b22}.small{font-size:85%;color:#666}
"""


def render(snap: dict[str, Any]) -> str:
    """The HTML page for one snapshot."""
    e = html.escape
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(snap['app'])}</title>",
        "<meta http-equiv='refresh' content='2'>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(snap['app'])}</h1>",
        f"<p class='small'>app {e(snap['app_id'])} &middot; framework "
        f"{e(str(snap.get('framework_id') or '-'))} &middot; "
        f"{snap['tasks_finished']} tasks finished, {snap['task_attempts_failed']} failed "
        f"attempts, {snap['pending_tasks']} pending</p>",
    ]
    if snap.get("waiting"):
        out.append(f"<p class='failed'>Waiting for executors: {e(snap['waiting'])}</p>")
    out.append(
        "<h2>Executors</h2><table><tr><th>executor</th><th>host</th><th>cpus</th>"
        "<th>task slots</th><th>running</th><th>address</th></tr>"
    )
    for x in snap["executors"]:
        out.append(
            f"<tr><td>{e(x['executor_id'])}</td><td>{e(x['host'])}</td>"
            f"<td>{x.get('cpus', x['cores']):g}</td>"
            f"<td>{x['cores']}</td><td>{x['running_tasks']}</td>"
            f"<td>{e(x['address'])}</td></tr>"
        )
    out.append("</table><h2>Jobs</h2>")
    if not snap["jobs"]:
        out.append("<p>No jobs yet.</p>")
    for job in snap["jobs"]:
        cls = " class='failed'" if job["status"] == "failed" else ""
        out.append(
            f"<h3{cls}>Job {job['job_id']}: {e(job['status'])} "
            f"({job['succeeded']}/{job['tasks']} tasks, {job['duration']:.2f} s)</h3>"
        )
        if job["error"]:
            out.append(f"<pre class='failed'>{e(job['error'])}</pre>")
        out.append(
            "<table><tr><th>stage</th><th>progress</th><th>tasks</th><th>running</th>"
            "<th>failed attempts</th><th>duration</th><th>task time</th>"
            "<th>errors</th></tr>"
        )
        for s in job["stages"]:
            pct = 100.0 * s["succeeded"] / s["total"] if s["total"] else 100.0
            errors = "<br>".join(e(x) for x in s["errors"])
            out.append(
                f"<tr><td>{s['stage_id']}.{s['attempt']}</td><td><div class='bar'>"
                f"<div class='fill' style='width:{pct:.0f}%'></div></div></td>"
                f"<td>{s['succeeded']}/{s['total']}</td><td>{s['running']}</td>"
                f"<td>{s['failed'] + s['fetch_failed']}</td><td>{s['duration']:.2f} s</td>"
                f"<td>{s['task_seconds']:.2f} s</td><td class='small'>{errors}</td></tr>"
            )
        out.append("</table>")
    if snap["executor_events"]:
        out.append("<h2>Executor losses</h2><ul>")
        for ev in snap["executor_events"]:
            kind = "released" if ev["released"] else "lost"
            out.append(f"<li>{e(ev['executor_id'])} {kind}: {e(ev['reason'])}</li>")
        out.append("</ul>")
    out.append("</body></html>")
    return "".join(out)


async def start_webui(snapshot: Snapshot, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve the page of `snapshot()` on `port` (0: a free one); returns the runner and the
    page's URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=render(snapshot()), content_type="text/html")

    async def api(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(snapshot()), content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/api/jobs", api)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}/"
