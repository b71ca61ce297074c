"""Benchmark: the web UI in a real headless Chromium (playwright driving /usr/bin/chromium),
always through a real gateway (``python -m dcos.gateway``).

(a) Navigation to a usable Services page (``#/services``) with 1,000 apps and 10,000 tasks, goal
    < 1 s. "Usable": the Services table shows its first page of app rows and its filter box
    works (an app id typed into it leaves that app's row alone); both read in the page as
    ``performance.now()`` (milliseconds since the navigation started) by a MutationObserver.
    A real cluster of processes cannot hold 10,000 tasks on a 2-core machine, so the state
    comes from `benchmarks/_ui_upstream.py`: the real master, agents (tasks simulated, no
    processes) and webapp framework in one process, the apps deployed through them, so every
    answer has a real cluster's shape (nothing hand-rendered). Baselines in the same run: the
    same page over 10 apps of 10 tasks, and the raw ``fetch`` + ``JSON.parse`` of the
    ``/v2/apps`` answer the page reads (its embeds, read from marathon.js) inside the loaded
    page, and of the same list with every task embedded (what a UI reading all tasks pays).
(b) A task's state change on the master to its display in the open page, goal < 200 ms, on a
    real ``dcos-py up --agents 1`` (quiet ports, a temporary work dir, the gateway included).
    An app of one ``sleep`` task; each round kills its task through the webapp API. The
    master's moment is when its operator stream (our own ``SUBSCRIBE`` on the master's
    ``/api/v1``) delivers the task's TASK_UPDATED to this process; the page's moment is a
    MutationObserver's ``Date.now()`` (same machine clock). Two pages stay open: the task's
    page (fed by the master's SUBSCRIBE through the gateway) showing the task killed, and the
    service's Tasks tab (fed by the webapp's ``/v2/events`` SSE) dropping the killed task and,
    later, showing its replacement running (against the master's TASK_UPDATED TASK_RUNNING).

It starts everything it needs and leaves nothing running. The UI is built first (``make
web``) when dcos/web/dist is missing.

    .venv/bin/python benchmarks/ui.py [--quick] [--only a|b] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _ui_upstream
import orjson
from _common import ROOT, percentiles

from tests.e2e.up_process import UpProcess, quiet_ports, up_ports  # noqa: E402
from tests.packages.conftest import http  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DIST = Path(ROOT) / "dcos" / "web" / "dist" / "index.html"
VIEWPORT = {"width": 1280, "height": 800}
USABLE_GOAL_MS = 1000.0
LIVE_GOAL_MS = 200.0
UP_TIMEOUT_S = 120.0
TERMINAL = ("TASK_KILLED", "TASK_FAILED", "TASK_FINISHED", "TASK_LOST", "TASK_ERROR",
            "TASK_DROPPED", "TASK_GONE")  # fmt: skip

# In every page before its scripts: `__watch(name, pred, wall)` records in `__marks[name]`
# the time of the first DOM mutation after which `pred()` holds (or of the call, when it holds
# already): performance.now() (ms since the navigation started), or Date.now() with `wall`.
WATCH_JS = """
window.__marks = {};
window.__watch = (name, pred, wall) => {
  const now = () => (wall ? Date.now() : performance.now());
  const check = () => {
    if (name in window.__marks) return;
    let ok = false;
    try { ok = pred(); } catch (e) { ok = false; }
    if (ok) { window.__marks[name] = now(); obs.disconnect(); }
  };
  const obs = new MutationObserver(check);
  obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  check();
};
"""
SERVICE_ROWS = 'table[aria-label="Services"] tbody tr'
SERVICE_FILTER = 'input[aria-label="Filter Services"]'


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ms(x: float) -> str:
    return f"{x:.0f} ms"


# -- processes --------------------------------------------------------------------------------


def ensure_web() -> None:
    """Build the UI (``make web``) when dcos/web/dist is missing."""
    if not DIST.exists():
        print("   building the UI (make web)")
        subprocess.run(["make", "web"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


class Gateway:
    """``python -m dcos.gateway`` in front of `master_url` on a quiet port, until `stop`."""

    def __init__(self, master_url: str, log_file: Path) -> None:
        (port,) = quiet_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dcos.gateway", "--ip", "127.0.0.1", "--port", str(port),
             "--master", master_url, "--log-file", str(log_file)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until("the gateway to find the master and the webapp", lambda: (
                http("GET", self.url + "/service/marathon/v2/info")[0] == 200), 60)  # fmt: skip
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            got = check()
            if got:
                return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


def launch_browser(pw: Any) -> Any:
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} missing: install Debian's chromium (make system-deps)")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage"])  # fmt: skip


def new_page(browser: Any) -> tuple[Any, Any, list[str]]:
    """A page in a fresh context (no cache) with `WATCH_JS`; its console errors collected."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH_JS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def wait_mark(page: Any, name: str, timeout_ms: float = 30000) -> float:
    page.wait_for_function(f"'{name}' in window.__marks", timeout=timeout_ms)
    return float(page.evaluate(f"window.__marks['{name}']"))


# -- (a) the Services page with 1,000 apps ---------------------------------------------------


def page_embeds() -> list[str]:
    """The embeds of the apps list the UI reads (``APP_EMBEDS`` in dcos/web/src/marathon.js),
    so the baseline fetches what the page fetches."""
    src = (Path(ROOT) / "dcos" / "web" / "src" / "marathon.js").read_text()
    found = re.search(r"const APP_EMBEDS = \[([^\]]*)\]", src)
    if not found:
        raise RuntimeError("APP_EMBEDS not found in dcos/web/src/marathon.js")
    return re.findall(r"'([^']+)'", found.group(1))


def apps_url(embeds: list[str]) -> str:
    return "/service/marathon/v2/apps?" + urllib.parse.urlencode([("embed", e) for e in embeds])


def services_load(browser: Any, gateway_url: str, target: str) -> dict[str, float]:
    """One cold load of ``#/services`` (a fresh context); ms since navigation start to the
    first app rows, and to the filter box showing `target`'s row alone after typing it in;
    plus, in the loaded page, the raw fetch+parse of the apps list as the page reads it and
    with every task embedded (``embed=apps.tasks``)."""
    context, page, errors = new_page(browser)
    try:
        page.add_init_script(
            f"window.__watch('rows', () => document.querySelector('{SERVICE_ROWS} a') !== null"
            f" && document.querySelector('{SERVICE_FILTER}') !== null)"
        )
        page.goto(gateway_url + "/#/services", wait_until="commit")
        rows = wait_mark(page, "rows")
        shown = page.locator(SERVICE_ROWS).count()
        page.evaluate("""([sel, target]) => window.__watch('filtered', () => {
            const rows = document.querySelectorAll(sel);
            return rows.length === 1 && rows[0].textContent.includes(target);
        })""", [SERVICE_ROWS, target])  # fmt: skip
        typed = float(page.evaluate("performance.now()"))
        page.fill(SERVICE_FILTER, target)
        usable = wait_mark(page, "filtered")
        raw = page.evaluate("""async (urls) => {
            const out = [];
            for (const url of urls) {
              const t0 = performance.now();
              const body = await (await fetch(url)).json();
              out.push([performance.now() - t0, body.apps.length]);
            }
            return out;
        }""", [apps_url(page_embeds()), apps_url(["apps.tasks"])])  # fmt: skip
        if errors:
            print(f"   (page errors: {errors[:3]})")
        # usable: the rows, then the filter's answer; the harness's round trips between the
        # two (playwright noticing the rows, then typing) are left out, and reported as `wall`
        return {"rows": rows, "usable": rows + usable - typed, "wall": usable,
                "filter": usable - typed, "shown": shown,
                "raw": float(raw[0][0]), "raw_tasks": float(raw[1][0]), "apps": raw[0][1]}  # fmt: skip
    finally:
        context.close()


def bench_services(browser: Any, apps: int, per_app: int, runs: int, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    upstream = _ui_upstream.start(apps, per_app)
    try:
        setup = time.perf_counter() - t0
        gw = Gateway(upstream.master_url, work / f"gateway-{apps}.log")
        try:
            target = _ui_upstream.app_definitions(apps, per_app)[-1]["id"].rsplit("/", 1)[1]
            loads = [services_load(browser, gw.url, target) for _ in range(runs + 1)]
        finally:
            gw.stop()
    finally:
        upstream.stop()
    return {"setup": setup, "deploy": upstream.deploy_s, "agents": upstream.agents, "first": loads[0], "loads": loads[1:]}


def report_services(
    small: dict[str, Any], big: dict[str, Any], sizes: tuple[int, int, int, int]
) -> None:
    apps, per_app, small_apps, small_per = sizes
    for label, res, n, per in (
        ("baseline", small, small_apps, small_per),
        ("large", big, apps, per_app),
    ):
        loads = res["loads"]
        rows, usable = median([x["rows"] for x in loads]), median([x["usable"] for x in loads])
        filt, raw = median([x["filter"] for x in loads]), median([x["raw"] for x in loads])
        raw_tasks = median([x["raw_tasks"] for x in loads])
        print(
            f"   {label}: {n} apps, {n * per} tasks on {res['agents']} simulated agents"
            f" (deployed through the master in {res['deploy']:.1f} s)"
        )
        print(f"     first app rows {ms(rows)}, usable (filter answered) {ms(usable)} after navigation"
              f" start (median of {len(loads)} cold loads; first load {ms(res['first']['usable'])});"
              f" {loads[0]['shown']} rows on the first page")  # fmt: skip
        wall = median([x["wall"] for x in loads])
        print(f"     filter typed to row shown {ms(filt)}; with the harness's round trips {ms(wall)};"
              f" raw fetch+parse in the page of /v2/apps as the page reads it {ms(raw)},"
              f" with every task embedded {ms(raw_tasks)}")  # fmt: skip
    b, s = big["loads"], small["loads"]
    usable_b, usable_s = median([x["usable"] for x in b]), median([x["usable"] for x in s])
    raw_b = median([x["raw"] for x in b])
    print(f"   ratio: {usable_b / usable_s:.2f}x the {small_apps}-app page, {usable_b / raw_b:.2f}x the raw"
          f" fetch+parse; goal < {USABLE_GOAL_MS:.0f} ms: {'met' if usable_b < USABLE_GOAL_MS else 'MISSED'}")  # fmt: skip


# -- (b) a task's state change on the master to the page --------------------------------------


class OperatorStream:
    """Our own operator ``SUBSCRIBE`` on the master (``POST /api/v1``, JSON RecordIO), read on
    a thread: for each task id, the wall-clock ms at which each TASK_UPDATED state arrived."""

    def __init__(self, master_url: str) -> None:
        self.url = master_url + "/api/v1"
        self.seen: dict[str, dict[str, float]] = {}
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self.subscribed.wait(30):
            raise TimeoutError(f"no SUBSCRIBED from {self.url}: {self._error!r}")

    def _run(self) -> None:
        try:
            asyncio.run(self._read())
        except BaseException as e:  # noqa: BLE001 -- reported by `subscribed` or `at`
            self._error = e

    async def _read(self) -> None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.post(
            self.url, data=b'{"type":"SUBSCRIBE"}',
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        ) as r:  # fmt: skip
            if r.status != 200:
                raise RuntimeError(f"SUBSCRIBE: {r.status} {await r.text()}")
            while not self._stop.is_set():
                size = int((await r.content.readuntil(b"\n")).strip())
                event = orjson.loads(await r.content.readexactly(size))
                now = time.time() * 1000
                if event["type"] == "SUBSCRIBED":
                    self.subscribed.set()
                elif event["type"] == "TASK_UPDATED":
                    upd = event["task_updated"]
                    tid = upd["status"]["task_id"]["value"]
                    self.seen.setdefault(tid, {}).setdefault(upd["state"], now)

    def at(self, task_id: str, states: tuple[str, ...], timeout: float = 30.0) -> tuple[str, float]:
        """The first of `states` the master reported for `task_id`, and when it arrived."""

        def first() -> tuple[str, float] | None:
            got = sorted((t, s) for s, t in self.seen.get(task_id, {}).items() if s in states)
            return (got[0][1], got[0][0]) if got else None

        found: tuple[str, float] = wait_until(
            f"the master's {'/'.join(states)} for {task_id}", first, timeout, 0.01
        )
        return found

    def close(self) -> None:
        self._stop.set()


def start_small_cluster(work: Path) -> tuple[UpProcess, dict[str, str]]:
    """``dcos-py up --agents 1`` with the gateway, on quiet ports in `work`."""
    ports = up_ports(1)
    up = UpProcess([*ports.args(), "--task-ports", str(62500 + ports.master % 1000)], work)
    try:
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
    except BaseException:
        up.cleanup()
        raise
    urls = {"master": ports.url(ports.master), "webapp": ports.url(ports.webapp),
            "gateway": ports.url(ports.gateway)}
    return up, urls


def call(method: str, url: str, body: Any = None) -> Any:
    status, _, raw = http(method, url, body, {"Content-Type": "application/json",
                                              "Accept": "application/json"})  # fmt: skip
    if status >= 300:
        raise RuntimeError(f"{method} {url}: {status} {raw[:300]!r}")
    return orjson.loads(raw) if raw else None


APP_ID = "/bench/ui-live"


def running_task(webapp: str) -> dict[str, Any] | None:
    app = call("GET", webapp + "/v2/apps" + APP_ID)["app"]
    tasks = [t for t in app.get("tasks", []) if t["state"] == "TASK_RUNNING"]
    return tasks[0] if len(tasks) == 1 and not app.get("deployments") else None


def live_round(stream: OperatorStream, task_page: Any, tab: Any, urls: dict[str, str],
               framework_id: str) -> dict[str, float]:  # fmt: skip
    """Kill the app's task once; the three latencies in ms (see the module docstring)."""
    task = wait_until("the app's task running", lambda: running_task(urls["webapp"]), 60, 0.05)
    tid = task["id"]
    enc = urllib.parse.quote(tid, safe="")
    query = urllib.parse.urlencode({"agent": task["slaveId"], "framework": framework_id})
    task_page.goto(f"{urls['gateway']}/#/tasks/{enc}?{query}")
    task_page.wait_for_selector('[data-testid="task-state"] .status.TASK_RUNNING', timeout=30000)
    tab.wait_for_selector(f'table[aria-label="Tasks"] a[href*="{enc}"]', timeout=30000)
    terminal = "|".join(TERMINAL)
    # the pages stay loaded (hash navigation): earlier rounds' marks are dropped first
    task_page.evaluate("""terminal => {
        delete window.__marks.ended;
        window.__watch('ended', () => {
          const el = document.querySelector('[data-testid="task-state"] .status');
          return el !== null && new RegExp(terminal).test(el.className);
        }, true);
    }""", terminal)  # fmt: skip
    tab.evaluate("""([enc, tid]) => {
        delete window.__marks.gone; delete window.__marks.replaced;
        const rows = () => [...document.querySelectorAll('table[aria-label="Tasks"] tbody tr')];
        window.__watch('gone', () => document.querySelector('table[aria-label="Tasks"]') !== null
          && !document.querySelector(`table[aria-label="Tasks"] a[href*="${enc}"]`), true);
        window.__watch('replaced', () => rows().some((r) => {
          const a = r.querySelector('a'), st = r.querySelector('.status.TASK_RUNNING');
          return a !== null && st !== null && !a.textContent.includes(tid);
        }), true);
    }""", [enc, tid])  # fmt: skip
    call("DELETE", f"{urls['webapp']}/v2/apps{APP_ID}/tasks/{urllib.parse.quote(tid)}")
    _, ended_at = stream.at(tid, TERMINAL)
    shown = wait_mark(task_page, "ended")
    gone = wait_mark(tab, "gone")
    replaced = wait_mark(tab, "replaced")
    new = wait_until("the replacement task", lambda: running_task(urls["webapp"]), 60, 0.02)
    _, running_at = stream.at(new["id"], ("TASK_RUNNING",))
    return {"task_page": shown - ended_at, "tab_gone": gone - ended_at,
            "tab_running": replaced - running_at}  # fmt: skip


def bench_live(browser: Any, rounds: int, work: Path) -> dict[str, list[float]]:
    up, urls = start_small_cluster(work / "cluster")
    stream: OperatorStream | None = None
    try:
        call(
            "POST",
            urls["webapp"] + "/v2/apps",
            {"id": APP_ID, "cmd": "sleep 3600", "cpus": 0.01, "mem": 8, "instances": 1},
        )
        framework_id = call("GET", urls["webapp"] + "/v2/info")["frameworkId"]
        stream = OperatorStream(urls["master"])
        ctx_a, task_page, errs_a = new_page(browser)
        ctx_b, tab, errs_b = new_page(browser)
        try:
            tab.goto(f"{urls['gateway']}/#/services/detail/{urllib.parse.quote(APP_ID, safe='')}")
            out: dict[str, list[float]] = {"task_page": [], "tab_gone": [], "tab_running": []}
            for _ in range(rounds):
                for k, v in live_round(stream, task_page, tab, urls, framework_id).items():
                    out[k].append(v)
            errors = [e for e in errs_a + errs_b if "ERR_ABORTED" not in e]
            if errors:
                print(f"   (page errors: {errors[:3]})")
            return out
        finally:
            ctx_a.close()
            ctx_b.close()
    finally:
        if stream is not None:
            stream.close()
        up.stop()


def report_live(res: dict[str, list[float]]) -> None:
    labels = {"task_page": "task page (master SUBSCRIBE via the gateway) shows the task killed",
              "tab_gone": "service Tasks tab (webapp SSE) drops the killed task",
              "tab_running": "service Tasks tab shows the replacement running"}  # fmt: skip
    worst = 0.0
    for key, label in labels.items():
        xs = res[key]
        p50, p90 = percentiles(xs, (50, 90))
        worst = max(worst, p50)
        print(f"   {label}: median {ms(p50)}, p90 {ms(p90)}, max {ms(max(xs))} ({len(xs)} rounds);"
              f" {p50 / LIVE_GOAL_MS:.2f}x the {LIVE_GOAL_MS:.0f} ms goal")  # fmt: skip
    print(f"   goal median < {LIVE_GOAL_MS:.0f} ms: {'met' if worst < LIVE_GOAL_MS else 'MISSED'}")


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short run (smaller numbers)")
    p.add_argument("--only", choices=["a", "b"], default=None)
    p.add_argument("--runs", type=int, default=None, help="page loads (a) / kill rounds (b)")
    args = p.parse_args()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise SystemExit(f"playwright missing ({exc}): .venv/bin/pip install -e '.[test]'") from exc

    ensure_web()
    q = args.quick
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, sync_playwright() as pw:
        work = Path(tmp)
        browser = launch_browser(pw)
        try:
            if args.only in (None, "a"):
                apps, per_app = (200, 10) if q else (1000, 10)
                small_apps, small_per = 10, 10
                runs = args.runs or (3 if q else 5)
                print(f"(a) #/services usable with {apps} apps and {apps * per_app} tasks"
                      f" (real master, agents and webapp in one process; tasks simulated)")  # fmt: skip
                small = bench_services(browser, small_apps, small_per, runs, work)
                big = bench_services(browser, apps, per_app, runs, work)
                report_services(small, big, (apps, per_app, small_apps, small_per))
            if args.only in (None, "b"):
                rounds = args.runs or (5 if q else 10)
                print(
                    "(b) a task's state change on the master to the open page"
                    " (dcos-py up --agents 1, gateway)"
                )
                report_live(bench_live(browser, rounds, work))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
