"""`dcos-py up`'s gateway: the one HTTP entry point of the local cluster (web UI and APIs, port 8000).

Called by: `dcos.cli.up` (`service_components` appends `gateway_component` last, so every
upstream is started first; `check_options` checks `--gateway-port` like the other ports;
`announce` prints `web_ui_line` first). The gateway (`python -m dcos.gateway`) gets every
master's URL (three with ``--ha``: it follows the leader itself), the package service's URL and
the DNS HTTP API's when `up` runs them, and the cluster's id and name for ``/metadata``.

The cluster id is a uuid4 kept in ``<work dir>/cluster-id``: written on the first `up` in a work
dir, read on every later one, so the DC/OS CLI (which keys its per-cluster config on it) sees
the same cluster across restarts.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from dcos.cli import http
from dcos.cli.errors import CliError
from dcos.cli.supervisor import Component

LOCAL_IP = "127.0.0.1"
DEFAULT_GATEWAY_PORT = 8000
CLUSTER_ID_FILE = "cluster-id"
CLUSTER_NAME = "dcos-py"  # the masters' --cluster default (/master/state "cluster")


def cluster_id(work: Path) -> str:
    """The cluster's id from ``<work>/cluster-id``, created (a uuid4) when missing. `CliError`
    when the file holds something else than a uuid (remove it to get a new id)."""
    path = work / CLUSTER_ID_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        work.mkdir(parents=True, exist_ok=True)
        new = str(uuid.uuid4())
        path.write_text(new + "\n", encoding="utf-8")
        return new
    except OSError as exc:
        raise CliError(f"cannot read the cluster id in {path}: {exc.strerror}") from None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CliError(f"{path} does not hold a cluster id (a uuid): {text[:60]!r}; remove it "
                       "and `up` writes a new one") from None


def gateway_url(port: int, scheme: str = "http") -> str:
    return f"{scheme}://{LOCAL_IP}:{port}"


def gateway_component(work: Path, port: int, master_urls: list[str], package_url: str | None,
                      dns_http_url: str | None, *, scheme: str = "http",
                      extra: list[str] | None = None) -> Component:
    """`python -m dcos.gateway` on 127.0.0.1:`port`, ready when ``/gateway/health`` answers
    200; not critical (the cluster runs on without its entry point, as without DNS). With
    `up --secure`, `scheme` is https and `extra` its security flags."""
    log = work / "gateway" / "gateway.log"
    url = gateway_url(port, scheme)
    argv = [sys.executable, "-m", "dcos.gateway", "--ip", LOCAL_IP, "--port", str(port)]
    for master in master_urls:
        argv += ["--master", master]
    if package_url is not None:
        argv += ["--package", package_url]
    if dns_http_url is not None:
        argv += ["--dns-http", dns_http_url]
    argv += ["--cluster-id", cluster_id(work), "--cluster-name", CLUSTER_NAME,
             "--log-file", str(log), *(extra or [])]
    return Component(name="gateway", argv=argv, log_path=log,
                     ready=lambda: http.get_status(url + "/gateway/health") == 200,
                     ready_what="serving the web UI and APIs", url=url, critical=False)


def web_ui_line(port: int, scheme: str = "http") -> str:
    """The first line of `up`'s summary."""
    return f"Web UI and API: {gateway_url(port, scheme)}"
