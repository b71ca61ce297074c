"""The webapp framework (``python -m frameworks.webapp``) as real processes for the chaos
tests: one instance, or several electing a leader in ZooKeeper (``--zk``).

`WebappFleet(cluster, instances=2, zk=...)` starts each instance as process ``webapp-<i>`` of
`cluster` (so `cluster.stop()` ends them too), on its own port and work dir. `leader()` asks
``/v2/leader`` (any instance answers), `kill(i)` SIGKILLs one, `call`/`get` talk to the API
of a live instance (followers proxy ``/v2`` to the leader).
"""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from typing import Any

from dcos.testing.processes import ProcessCluster, free_port

WEBAPP_ZK_SESSION_TIMEOUT = "2"


class WebappFleet:
    """See the module docstring. `master` is what the instances get as ``--master`` (the
    cluster's by default: a zk:// URL for an `HACluster`)."""

    def __init__(self, cluster: ProcessCluster, instances: int = 1, *, zk: str | None = None,
                 master: str | None = None, extra: list[str] | None = None) -> None:  # fmt: skip
        if instances > 1 and zk is None:
            raise ValueError("several webapp instances need zk=zk://.../path")
        self.cluster = cluster
        self.instances = instances
        self.zk = zk
        self.master = master or cluster.master
        self.extra = extra or []
        self.ports = [free_port() for _ in range(instances)]

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def name(self, i: int) -> str:
        return f"webapp-{i}"

    def alive(self, i: int) -> bool:
        p = self.cluster.procs.get(self.name(i))
        return p is not None and p.poll() is None

    def start_instance(self, i: int) -> None:
        c = self.cluster
        ha = ["--zk", self.zk, "--zk-session-timeout", WEBAPP_ZK_SESSION_TIMEOUT] if self.zk else []
        c._spawn(self.name(i), [
            "-m", "frameworks.webapp", "--master", self.master, "--ip", "127.0.0.1",
            "--port", str(self.ports[i]), "--work-dir", str(c.work_dir / self.name(i)),
            "--log-file", str(c.work_dir / f"{self.name(i)}.log"), *ha, *self.extra,
        ])  # fmt: skip
        c.wait_for(lambda: self.status(i, "/ping") == 200, f"{self.name(i)} /ping")

    def start(self) -> WebappFleet:
        """Every instance, then a leader registered with the master."""
        for i in range(self.instances):
            self.start_instance(i)
        self.cluster.wait_for(lambda: self.leader() is not None, "a leading webapp instance")
        self.cluster.wait_for(lambda: (self.get("/v2/info") or {}).get("frameworkId"),
                              "webapp framework registered")  # fmt: skip
        return self

    def leader(self) -> int | None:
        """The index of the leading instance, per ``/v2/leader`` of the live instances."""
        for i in range(self.instances):
            if not self.alive(i):
                continue
            body = self._request(i, "GET", "/v2/leader")[1]
            if isinstance(body, dict) and body.get("leader"):
                port = int(str(body["leader"]).rsplit(":", 1)[1])
                return self.ports.index(port) if port in self.ports else None
        return None

    def kill(self, i: int) -> None:
        self.cluster.kill(self.name(i), signal.SIGKILL)

    def status(self, i: int, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url(i) + path, timeout=2) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except OSError:
            return 0

    def _request(self, i: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(i) + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                raw = r.read()
                return int(r.status), json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return int(e.code), json.loads(raw or b"null")
            except ValueError:
                return int(e.code), raw.decode(errors="replace")
        except OSError as e:
            return 0, str(e)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """`method` `path` on the first live instance that answers (0 when none does)."""
        out: tuple[int, Any] = (0, "no live webapp instance")
        for i in range(self.instances):
            if self.alive(i):
                out = self._request(i, method, path, body)
                if out[0] not in (0, 502, 503):
                    return out
        return out

    def get(self, path: str) -> Any:
        code, body = self.call("GET", path)
        return body if code == 200 else None

    def app(self, app_id: str) -> dict:
        return (self.get(f"/v2/apps{app_id}") or {}).get("app") or {}

    def tasks(self, app_id: str) -> list[dict]:
        return (self.get(f"/v2/apps{app_id}/tasks") or {}).get("tasks", [])
