"""The tweeter demo end to end on the shared package cluster (`pkg_cluster`): install redis and
tweeter, post messages through the load balancer (Host header = tweeter's virtual host), scale
tweeter to 3 and read the same timeline from every instance directly, install
tweeter-analytics and check its word and hashtag counts against counts computed here from the
posted messages (JSON and the analytics page), then uninstall all three and check nothing is
left (apps, tasks, the analytics batch framework, processes).

The first tests need no cluster: tweeter_analytics' tokenization and tweeter's DNS names, then
both programs as real processes on a real redis-server, run from the built wheel set
(packages-repo/build/assets/tweeter.tar, unpacked as a task unpacks it): the web app's API and
its refusals, /health following Redis, and the analytics program (master `local[2]`)
recomputing and ending cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.parse
import zipfile
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from tests.e2e.up_process import quiet_ports
from tests.packages.conftest import CHECKOUT, CosmosError, PkgCluster, get_json, http

SRC = CHECKOUT / "packages-repo" / "src" / "tweeter"
ASSET = CHECKOUT / "packages-repo" / "build" / "assets" / "tweeter.tar"
REDIS_SERVER = "/usr/bin/redis-server"

REDIS_APP = "tweeter-test-redis"
TWEETER_APP = "tweeter-test"
ANALYTICS_APP = "tweeter-test-analytics"
FRAMEWORK = f"batch: {ANALYTICS_APP}"  # frameworks.batch registers drivers as `batch: <appName>`
VHOST = "tweeter-test.dcos"
KEY_PREFIX = "tweeter-test"

MESSAGES = [
    ("amy", "Deploying tweeter on the cluster #dcos #demo"),
    ("bob", "Scaling the tweeter app to three instances #dcos"),
    ("cy", "Redis keeps every tweet #redis"),
    ("amy", "The load balancer serves the virtual host #haproxy #dcos"),
    ("dee", "Batch analytics counts the words #spark"),
    ("bob", "Words and hashtags counted on the executors #spark #dcos"),
    ("cy", "Hello hello HELLO #Demo"),
    ("eve", "Tweeter tweeter everywhere"),
    ("amy", "the end of the demo #DEMO"),
]


def expected_counts(texts: list[str], top: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """Top words and hashtags of these plain messages (letters, spaces and `#tags` only), ranked
    as tweeter-analytics documents: count descending, then alphabetical."""
    words: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for text in texts:
        for token in text.lower().split():
            (tags if token.startswith("#") else words)[token] += 1

    def ranked(c: Counter[str]) -> list[list[Any]]:
        return [[k, v] for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]

    return ranked(words), ranked(tags)


# ---- without a cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tweeter_src() -> Any:
    sys.path.insert(0, str(SRC))
    try:
        yield SRC
    finally:
        sys.path.remove(str(SRC))


def test_tokenization_words_and_hashtags(tweeter_src: Path) -> None:
    from tweeter_analytics import text

    msg = "Loving #DCOS, don't you? @bob #dcos c# x#y -- 2026!"
    assert text.hashtags(msg) == ["#dcos", "#dcos"]
    assert text.words(msg) == ["loving", "don't", "you", "bob", "c", "x", "y", "2026"]
    assert text.words("#only #tags") == []
    assert text.hashtags("no tags here #") == []
    assert text.words("Café CAFÉ") == ["café", "café"]


def test_expected_counts_agree_with_the_job_tokenizer(tweeter_src: Path) -> None:
    from tweeter_analytics import text

    texts = [t for _, t in MESSAGES]
    words, tags = expected_counts(texts, 1000)
    assert words == [[w, c] for w, c in sorted(
        Counter(w for t in texts for w in text.words(t)).items(), key=lambda kv: (-kv[1], kv[0]))]
    assert tags == [[h, c] for h, c in sorted(
        Counter(h for t in texts for h in text.hashtags(t)).items(), key=lambda kv: (-kv[1], kv[0]))]


def test_dns_names_of_app_ids(tweeter_src: Path) -> None:
    from tweeter import discovery

    assert discovery.srv_name("redis") == "_redis._tcp.webapp.dcos"
    assert discovery.srv_name("/team/redis") == "_redis-team._tcp.webapp.dcos"
    with pytest.raises(discovery.DiscoveryError):
        discovery.app_label("/")
    with pytest.raises(discovery.DiscoveryError):
        discovery.resolver_from_env("no-port")


# ---- the programs as processes, on a real redis-server (no cluster) ---------------------------


def unpack_wheel_set(out: Path) -> Path:
    """The built wheel set (packages-repo/build/assets/tweeter.tar) unpacked as a task does it:
    every wheel's zip into `out`/pylib. Fails when the set was not built."""
    if not ASSET.exists():
        pytest.fail(f"{ASSET} missing: build it with `dcos-py package build packages-repo/`")
    with tarfile.open(ASSET) as tar:
        tar.extractall(out, filter="data")
    pylib = out / "pylib"
    for wheel in sorted((out / "tweeter").glob("*.whl")):
        with zipfile.ZipFile(wheel) as z:
            z.extractall(pylib)
    return pylib


@pytest.fixture(scope="module")
def pylib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_wheel_set(tmp_path_factory.mktemp("tweeter-set"))


class Proc:
    """A child process for one test, with its output in a file; `stop()` ends it (SIGTERM, then
    SIGKILL after 10 s) and returns its exit code."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})})

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def start_redis(port: int, tmp: Path) -> Proc:
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} missing (Debian package redis-server)")
    proc = Proc([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp)], tmp / f"redis-{port}.log")
    wait_for(f"redis-server on {port}", lambda: redis_ping(port), timeout=10)
    return proc


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def start_program(module: str, args: list[str], pylib: Path, tmp: Path, port: int) -> Proc:
    """`python -m <module> <args>` with the wheel set on PYTHONPATH (as the package runs it);
    waits until its /health on `port` answers at all."""
    proc = Proc([sys.executable, "-m", module, *args], tmp / f"{module}-{port}.log",
                {"PYTHONPATH": str(pylib), "MESOS_TASK_ID": f"{module}-{port}"})

    def answering() -> bool:
        assert proc.p.poll() is None, proc.output()
        return http("GET", f"http://127.0.0.1:{port}/health", timeout=2)[0] in (200, 503)

    wait_for(f"{module} on port {port}", answering, timeout=20)
    return proc


@pytest.fixture
def local_tweeter(pylib: Path, tmp_path: Path) -> Any:
    """(tweeter base URL, redis port, restart-redis callable) on a fresh redis-server."""
    rport, wport = quiet_ports(2)
    procs = {"redis": start_redis(rport, tmp_path)}
    procs["web"] = start_program("tweeter", ["--port", str(wport), "--redis-url",
                                             f"redis://127.0.0.1:{rport}", "--key-prefix", "t"],
                                 pylib, tmp_path, wport)
    try:
        yield f"http://127.0.0.1:{wport}", rport, procs
    finally:
        for proc in procs.values():
            proc.stop()


def api(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    status, _, raw = http(method, url, body, {"Content-Type": "application/json"}
                          if body is not None else {})
    try:
        return status, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return status, raw.decode(errors="replace")


def test_web_app_posts_reads_and_refuses_bad_input(local_tweeter: Any) -> None:
    base, _, _ = local_tweeter
    assert api("GET", base + "/health")[0] == 200
    assert api("GET", base + "/api/tweets") == (200, {"count": 0, "tweets": []})
    assert api("GET", base + "/api/analytics") == (404, {"message": "no analytics yet"})
    for i in range(3):
        status, tweet = api("POST", base + "/api/tweets", {"handle": "amy", "text": f" msg {i} "})
        assert status == 201 and tweet["id"] == i + 1 and tweet["text"] == f"msg {i}"
    status, body = api("GET", base + "/api/tweets?limit=2")
    assert status == 200 and body["count"] == 3
    assert [t["text"] for t in body["tweets"]] == ["msg 2", "msg 1"]  # newest first
    bad = [
        ({"handle": "a b", "text": "x"}, "handle"),
        ({"handle": "", "text": "x"}, "handle"),
        ({"text": "x"}, "handle"),
        ({"handle": "amy", "text": "   "}, "text"),
        ({"handle": "amy", "text": "x" * 281}, "text"),
        ({"handle": "amy", "text": 5}, "text"),
        (["not", "an", "object"], ""),
    ]
    for body, field in bad:
        status, answer = api("POST", base + "/api/tweets", body)
        assert status == 400 and answer["field"] == field, (body, answer)
    assert api("POST", base + "/api/tweets", b"{not json")[0] == 400
    for limit in ("0", "501", "x", "-1"):
        assert api("GET", f"{base}/api/tweets?limit={limit}")[1]["field"] == "limit"
    assert api("GET", base + "/api/tweets")[1]["count"] == 3  # nothing refused was stored
    # The page escapes what users wrote.
    api("POST", base + "/api/tweets", {"handle": "eve", "text": "<script>alert(1)</script>"})
    status, page = api("GET", base + "/")
    assert status == 200 and "<script>alert" not in page and "&lt;script&gt;" in page


def test_health_follows_redis(local_tweeter: Any, tmp_path: Path) -> None:
    base, rport, procs = local_tweeter
    assert api("POST", base + "/api/tweets", {"handle": "amy", "text": "before"})[0] == 201
    procs["redis"].stop()
    status, body = api("GET", base + "/health")
    assert status == 503 and body["healthy"] is False and "redis" in body["reason"]
    assert api("GET", base + "/api/tweets")[0] == 503
    assert api("POST", base + "/api/tweets", {"handle": "amy", "text": "lost"})[0] == 503
    assert api("GET", base + "/")[0] == 503
    procs["redis"] = start_redis(rport, tmp_path)  # a new, empty Redis at the same address
    assert api("GET", base + "/health") == (200, {"healthy": True, "redis": f"127.0.0.1:{rport}"})
    assert api("GET", base + "/api/tweets")[1]["count"] == 0


def test_analytics_program_recomputes_and_stops_on_sigterm(local_tweeter: Any, pylib: Path,
                                                          tmp_path: Path) -> None:
    base, rport, procs = local_tweeter
    texts = [t for _, t in MESSAGES]
    for handle, text in MESSAGES:
        assert api("POST", base + "/api/tweets", {"handle": handle, "text": text})[0] == 201
    (aport,) = quiet_ports(1)
    analytics = start_program("tweeter_analytics", [
        "--master", "local[2]", "--redis-url", f"redis://127.0.0.1:{rport}", "--key-prefix", "t",
        "--interval", "0.5", "--top", "3", "--port", str(aport)], pylib, tmp_path, aport)
    procs["analytics"] = analytics
    result = wait_for("the first analytics result",
                      lambda: api("GET", base + "/api/analytics")[1].get("messages"), 30)
    assert result == len(MESSAGES)
    words, tags = expected_counts(texts, 3)
    status, got = api("GET", base + "/api/analytics")
    assert (got["top_words"], got["top_hashtags"]) == (words, tags)
    assert api("GET", f"http://127.0.0.1:{aport}/health")[0] == 200
    api("POST", base + "/api/tweets", {"handle": "fay", "text": "#new #new #new #new #new"})
    wait_for("a recomputed result", lambda: api("GET", base + "/api/analytics")[1]["messages"]
             == len(MESSAGES) + 1, 10)
    assert api("GET", base + "/api/analytics")[1]["top_hashtags"][0] == ["#new", 5]
    assert analytics.stop() == 0, analytics.output()


# ---- on the package cluster -------------------------------------------------------------------


def via_lb(c: PkgCluster, method: str, path: str, body: Any = None,
           timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    headers = {"Host": VHOST, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return http(method, c.lb_http + path, body, headers, timeout)


def header(headers: dict[str, str], name: str) -> str:
    """A response header by name in any case (haproxy lowercases the names it relays)."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def post_form(c: PkgCluster, handle: str, text: str) -> tuple[int, str | None]:
    """POST the timeline page's form through the load balancer, not following the redirect:
    (status, Location)."""
    host, port = c.lb_http.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/tweets", urllib.parse.urlencode({"handle": handle, "text": text}),
                     {"Host": VHOST, "Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location")
    finally:
        conn.close()


def wait_for(what: str, probe: Any, timeout: float) -> Any:
    """Poll `probe()` until it returns something truthy; AssertionError naming `what` and the
    last value (or exception) when `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # noqa: BLE001 (a probe of something still starting)
            last = exc
        else:
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"{what} not within {timeout:g} s; last: {last!r}")


def tasks_of(c: PkgCluster, app: str) -> list[dict[str, Any]]:
    return list(get_json(f"{c.webapp_url}/v2/apps/{app}/tasks")["tasks"])


def framework_ids(c: PkgCluster, name: str) -> list[str]:
    state = get_json(c.master_url + "/master/state")
    return [f["id"] for f in state.get("frameworks", []) if f.get("name") == name]


def framework_tasks(c: PkgCluster, name: str) -> list[dict[str, Any]]:
    """The running tasks (for a batch driver: its executors) of the framework `name`."""
    state = get_json(c.master_url + "/master/state")
    return [t for f in state.get("frameworks", []) if f.get("name") == name
            for t in f.get("tasks", []) if t.get("state") == "TASK_RUNNING"]


def processes_of_framework(framework_id: str) -> list[str]:
    out = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if p.environ().get("MESOS_FRAMEWORK_ID") == framework_id \
                    and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
    return out


def redis_options(c: PkgCluster) -> dict[str, Any]:
    """Options of the redis package that name its app `REDIS_APP` (its config's service name
    option, whatever its schema calls it; the app id otherwise)."""
    config = c.rpc("/package/describe", {"packageName": "redis"})["package"].get("config") or {}
    service = config.get("properties", {}).get("service", {}).get("properties", {})
    return {"service": {"name": REDIS_APP}} if "name" in service else {}


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_tweeter_demo_end_to_end(pkg_cluster: PkgCluster) -> None:
    for program in ("haproxy", "redis-server"):  # the load balancer; the redis package's program
        if shutil.which(program) is None:
            pytest.fail(f"{program} is not installed (scripts/install-system-deps.sh)")
    c = pkg_cluster
    installed: list[tuple[str, str]] = []
    try:
        # redis, then tweeter (found through DNS), both healthy.
        opts = redis_options(c)
        c.install("redis", opts, app_id=None if opts else REDIS_APP)
        installed.append(("redis", REDIS_APP))
        c.wait_healthy(REDIS_APP, timeout=120)
        c.install("tweeter", {"service": {"name": TWEETER_APP, "vhost": VHOST},
                              "redis": {"service_name": REDIS_APP, "key_prefix": KEY_PREFIX}})
        installed.append(("tweeter", TWEETER_APP))
        c.wait_healthy(TWEETER_APP, timeout=180)

        # Post through the load balancer on the virtual host (JSON API; one through the form).
        wait_for("tweeter behind the load balancer",
                 lambda: via_lb(c, "GET", "/health")[0] == 200, timeout=60)
        for i, (handle, text) in enumerate(MESSAGES):
            if i == 0:
                status, location = post_form(c, handle, text)
                assert (status, location) == (303, "/")
            else:
                status, _, raw = via_lb(c, "POST", "/api/tweets", {"handle": handle, "text": text})
                assert status == 201, raw
                assert orjson.loads(raw)["text"] == text
        status, _, raw = via_lb(c, "POST", "/api/tweets", {"handle": "no spaces", "text": "x"})
        assert status == 400 and orjson.loads(raw)["field"] == "handle"

        want = [(h, t) for h, t in reversed(MESSAGES)]  # the timeline is newest first
        status, _, raw = via_lb(c, "GET", "/api/tweets?limit=500")
        timeline = orjson.loads(raw)
        assert status == 200 and timeline["count"] == len(MESSAGES)
        assert [(t["handle"], t["text"]) for t in timeline["tweets"]] == want
        status, _, page = via_lb(c, "GET", "/")
        assert status == 200 and html.escape(MESSAGES[-1][1]) in page.decode()

        # Scale to 3: every instance serves the same timeline, and the LB reaches all three.
        status, _, raw = http("PUT", f"{c.webapp_url}/v2/apps/{TWEETER_APP}", {"instances": 3},
                              {"Content-Type": "application/json"})
        assert status == 200, raw
        c.wait_healthy(TWEETER_APP, timeout=180)
        tasks = tasks_of(c, TWEETER_APP)
        assert len(tasks) == 3
        for task in tasks:
            url = f"http://{task['host']}:{task['ports'][0]}/api/tweets?limit=500"
            status, hdrs, raw = http("GET", url)
            assert status == 200 and header(hdrs, "X-Tweeter-Instance") == task["id"]
            assert orjson.loads(raw) == timeline, task["id"]
        ids = {t["id"] for t in tasks}
        seen: set[str] = set()

        def lb_reaches_all() -> bool:
            status, hdrs, raw = via_lb(c, "GET", "/api/tweets?limit=500")
            if status == 200 and orjson.loads(raw) == timeline:
                seen.add(header(hdrs, "X-Tweeter-Instance"))
            return ids <= seen

        wait_for(f"the load balancer answering from each of {sorted(ids)}", lb_reaches_all,
                 timeout=60)

        # tweeter-analytics: a batch framework whose counts match the posted messages.
        c.install("tweeter-analytics", {"service": {"name": ANALYTICS_APP, "interval": 2},
                                        "redis": {"service_name": REDIS_APP,
                                                  "key_prefix": KEY_PREFIX}})
        installed.append(("tweeter-analytics", ANALYTICS_APP))
        c.wait_healthy(ANALYTICS_APP, timeout=240)
        assert len(framework_ids(c, FRAMEWORK)) == 1
        executors = wait_for("the analytics framework's executors on the agents",
                             lambda: framework_tasks(c, FRAMEWORK), timeout=30)
        assert all(t["state"] == "TASK_RUNNING" for t in executors)

        def analytics(count: int) -> Any:
            status, _, raw = via_lb(c, "GET", "/api/analytics")
            result = orjson.loads(raw) if status == 200 else None
            return result if result and result["messages"] == count else None

        result = wait_for("analytics of every message", lambda: analytics(len(MESSAGES)), 60)
        words, tags = expected_counts([t for _, t in MESSAGES], 10)
        assert result["top_words"] == words
        assert result["top_hashtags"] == tags
        assert tags[0] == ["#dcos", 4] and ["hello", 3] in words
        status, _, page = via_lb(c, "GET", "/analytics")
        text = page.decode()
        assert status == 200
        for token, count in words + tags:
            assert f"<td>{html.escape(token)}</td><td class='count'>{count}</td>" in text

        # A new message shows up in the next run.
        status, _, _ = via_lb(c, "POST", "/api/tweets", {"handle": "fay", "text": "late #dcos"})
        assert status == 201
        later = wait_for("analytics of the new message", lambda: analytics(len(MESSAGES) + 1), 60)
        assert later["top_hashtags"][0] == ["#dcos", 5]

        # Redis replaced (its task killed: a new, empty one on another port): both programs
        # find the new one through DNS and go on.
        (old,) = tasks_of(c, REDIS_APP)
        status, _, raw = http("DELETE", f"{c.webapp_url}/v2/apps/{REDIS_APP}/tasks/{old['id']}")
        assert status == 200, raw

        def moved() -> Any:
            tasks = tasks_of(c, REDIS_APP)
            if len(tasks) != 1 or tasks[0]["id"] == old["id"]:
                return None  # the old task still listed, or no new one yet
            status, _, raw = via_lb(c, "GET", "/health")
            port = tasks[0]["ports"][0]
            return tasks[0] if status == 200 and orjson.loads(raw)["redis"].endswith(f":{port}") \
                else None

        new = wait_for("tweeter on the new Redis", moved, timeout=60)
        for task in tasks_of(c, TWEETER_APP):  # each finds it at its first call after the move
            status, _, raw = http("GET", f"http://{task['host']}:{task['ports'][0]}/health")
            assert status == 200 and orjson.loads(raw)["redis"].endswith(f":{new['ports'][0]}")
        status, _, _ = via_lb(c, "POST", "/api/tweets", {"handle": "gus", "text": "again #dcos"})
        assert status == 201
        again = wait_for("analytics on the new Redis", lambda: analytics(1), 60)
        assert again["top_hashtags"] == [["#dcos", 1]]

        # Uninstall all three: nothing left (apps, tasks, framework, its executors' processes).
        fw_ids = framework_ids(c, FRAMEWORK)
        assert all(processes_of_framework(fid) for fid in fw_ids)  # its executors, seen alive
        for name, app in reversed(installed):
            c.uninstall(name, app_id="/" + app)
            c.assert_clean(app, framework_name=FRAMEWORK if name == "tweeter-analytics" else None)
            installed.remove((name, app))
        for fid in fw_ids:
            assert processes_of_framework(fid) == []
        listed = c.rpc("/package/list", {})["packages"]
        assert not [p for p in listed if p["appId"].strip("/").startswith("tweeter-test")]
    finally:
        for name, app in reversed(installed):
            with contextlib.suppress(CosmosError, AssertionError, OSError):
                c.uninstall(name, app_id="/" + app)
