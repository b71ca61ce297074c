"""The web UI tests' shared fixtures: one real cluster, one headless Chromium.

- `ui_cluster` (package-scoped): a real `dcos-py up --agents 2` (master, two agents, webapp,
  DNS, batch dispatcher, package service with packages-repo/build/index.json, load balancer
  when haproxy is installed, and the gateway serving the built UI) in a temporary work dir
  on free ports; `ui_cluster.url` is the gateway's URL, the other URLs are the components'
  own. Started once for tests/web, stopped (nothing left running) when they are done.
- `browser` (package-scoped): playwright's Chromium driving Debian's /usr/bin/chromium,
  headless. Missing chromium or playwright fails the tests (`make test` installs both).
- `page` (per test): a new page at 1280x800 whose console errors and uncaught page errors are
  collected; any of them fails the test at its end (printed with the test's output). A test
  that provokes an error on purpose says so with `allow_console(page, "regex")`.
- `screenshot(page, name)`: saves docs/screenshots/<name>.png (the README shows them).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.up_process import UpProcess, up_ports
from tests.packages.conftest import http

CHECKOUT = Path(__file__).resolve().parents[2]
INDEX = CHECKOUT / "packages-repo" / "build" / "index.json"
DIST = CHECKOUT / "dcos" / "web" / "dist" / "index.html"
SCREENSHOTS = CHECKOUT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
UP_TIMEOUT_S = 120.0
VIEWPORT = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 800}


@dataclass
class UiCluster:
    """What a UI test gets: the gateway URL (`url`) and the components' own URLs."""

    up: UpProcess
    work: Path
    url: str
    master_url: str
    webapp_url: str
    package_url: str
    batch_url: str
    app_ids: list[str] = field(default_factory=list)

    def get(self, path: str, timeout: float = 10.0) -> Any:
        """GET `path` through the gateway; the JSON answer (AssertionError unless 200)."""
        status, _, raw = http("GET", self.url + path, headers={"Accept": "application/json"},
                              timeout=timeout)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {raw[:300]!r}")
        return orjson.loads(raw)

    def send(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """`method` `path` through the gateway with a JSON body; the JSON answer (or None);
        AssertionError on a status of 400 or more."""
        status, _, raw = http(method, self.url + path, body,
                              {"Content-Type": "application/json", "Accept": "application/json"},
                              timeout)
        if status >= 400:
            raise AssertionError(f"{method} {path}: {status} {raw[:300]!r}")
        return orjson.loads(raw) if raw else None

    def wait_for(self, what: str, check: Any, timeout: float = 60.0, every: float = 0.2) -> Any:
        """Call `check()` until it returns something truthy (returned); AssertionError naming
        `what` and the last value after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):
                last = check()
                if last:
                    return last
            time.sleep(every)
        raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


def start_ui_cluster(work: Path) -> UiCluster:
    """`dcos-py up --agents 2` in `work` on quiet ports, with the gateway; wait until ready."""
    ports = up_ports(2)
    # task ports apart from any other local cluster's (see tests/packages/conftest.py)
    args = [*ports.args(), "--task-ports", str(random.randrange(61000, 62500))]
    up = UpProcess(args, work)
    try:
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
    except BaseException:
        up.cleanup()
        raise
    url = ports.url
    return UiCluster(up=up, work=work, url=url(ports.gateway), master_url=url(ports.master),
                     webapp_url=url(ports.webapp), package_url=url(ports.package),
                     batch_url=url(ports.batch))  # fmt: skip


def stop_ui_cluster(cluster: UiCluster) -> None:
    """SIGTERM `up`, wait for it, and kill whatever of it is left."""
    cluster.up.stop()


@pytest.fixture(scope="package")
def ui_cluster(tmp_path_factory: pytest.TempPathFactory) -> Generator[UiCluster, None, None]:
    """The UI tests' cluster (see the module docstring). Fails (never skips) when the UI or
    the catalog's index was not built: `make test` builds both first."""
    if not DIST.exists():
        pytest.fail(f"{DIST} missing: build the UI with `make web`")
    if not INDEX.exists():
        pytest.fail(f"{INDEX} missing: build it with `make repo`")
    cluster = start_ui_cluster(tmp_path_factory.mktemp("ui-cluster"))
    try:
        cluster.wait_for("the gateway to see the leading master",
                         lambda: cluster.get("/gateway/health")["healthy"], timeout=30)
        yield cluster
    finally:
        stop_ui_cluster(cluster)


@pytest.fixture(scope="package")
def browser() -> Generator[Any, None, None]:
    """Headless Chromium (/usr/bin/chromium) driven by playwright; missing either fails."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium "
                    "(scripts/install-system-deps.sh, run by `make test`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"playwright is not installed ({exc}): pip install -e '.[test]'")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


_NOISE = [
    # the SUBSCRIBE stream or a log read cut short when a page closes or navigates
    re.compile(r"net::ERR_ABORTED"),
]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Generator[Any, None, None]:
    """A fresh page (own context) at 1280x800; its console errors and page errors fail the
    test (see the module docstring)."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    errors: list[str] = []
    pg._dcos_errors = errors
    pg._dcos_allowed = []
    pg.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text} "
                                               f"({msg.location.get('url', '')})")
          if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    try:
        yield pg
    finally:
        allowed = pg._dcos_allowed + _NOISE
        bad = [e for e in errors if not any(p.search(e) for p in allowed)]
        context.close()
    if bad:
        pytest.fail("the page logged errors:\n" + "\n".join(bad), pytrace=False)


def allow_console(page: Any, pattern: str) -> None:
    """Let console errors matching `pattern` pass (a test provoking an API error on purpose:
    Chromium logs every 4xx/5xx answer as "Failed to load resource")."""
    page._dcos_allowed.append(re.compile(pattern))


def screenshot(page: Any, name: str) -> Path:
    """Save the page as docs/screenshots/<name>.png; the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_page(page: Any, cluster: UiCluster, route: str) -> Any:
    """Go to the UI at hash route `route` (e.g. "/dashboard") and wait for the app to render."""
    page.goto(f"{cluster.url}/#{route}")
    page.wait_for_selector("main#main h1")
    return page


