"""Security of the batch framework: how the dispatcher and its job drivers authenticate.

The dispatcher (``--security-dir``, principal ``batch``, a component certificate) serves its
API over HTTPS behind `dcos.security.http.auth_middleware` and registers with the master over
mutual TLS. Its job drivers run the submitted script, i.e. user code: they must never hold the
dispatcher's certificate (ANY rights). They register as the framework principal
``batch-driver`` (HTTP Basic, Mesos' framework authentication; `DRIVER_PRINCIPAL`, whose
secret ``up --secure`` puts in credentials.json and whose ACLs allow registering and running
tasks as the task users only). How a driver gets that secret without it showing anywhere:

1. At each SUBSCRIBED the dispatcher stores the secret (read from credentials.json) in the
   master's secret store at `secret_path(framework name)` (``PUT``, or ``PATCH`` when it
   exists: `publish_driver_secret`).
2. Each driver task carries a SECRET *file* volume referencing that path (`secret_volume`):
   the TaskInfo, the master's ``/state`` and the task's environment hold only the reference;
   the agent writes the value into the sandbox (`SECRET_FILE`, mode 0400, the task's user).
3. The driver's conf says ``spark.mesos.principal`` = ``batch-driver`` and
   ``spark.mesos.secret.file`` = `SECRET_FILE` (Spark's keys); `driver_credentials` reads the
   file (relative to ``MESOS_SANDBOX``). The CA to verify the master comes from
   ``DCOS_CA_FILE``, which the agent sets (`driver_tls`).

A driver started by hand (client mode) may pass ``spark.mesos.principal`` with
``spark.mesos.secret`` or ``spark.mesos.secret.file`` the same way.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from dcos.sdk import Credentials

log = logging.getLogger(__name__)

DRIVER_PRINCIPAL = "batch-driver"
SECRET_FILE = ".dcos/driver-secret"  # in the driver task's sandbox (a SECRET volume)
PRINCIPAL_KEY, SECRET_KEY, SECRET_FILE_KEY = "spark.mesos.principal", "spark.mesos.secret", "spark.mesos.secret.file"


def secret_path(framework_name: str) -> str:
    """The secret store path of a dispatcher's driver secret (``batch/<name>/driver-secret``;
    characters a secret path may not hold become ``-``)."""
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "-" for ch in framework_name).strip(".")
    return f"batch/{safe or 'dispatcher'}/driver-secret"


def secret_volume(path: str) -> dict[str, Any]:
    """The Mesos volume putting secret `path` at `SECRET_FILE` in a driver's sandbox."""
    return {"container_path": SECRET_FILE, "mode": "RO",
            "source": {"type": "SECRET", "secret": {"type": "REFERENCE", "reference": {"name": path}}}}  # fmt: skip


def driver_conf() -> dict[str, str]:
    """The conf keys a driver task gets (names only, never the secret)."""
    return {PRINCIPAL_KEY: DRIVER_PRINCIPAL, SECRET_FILE_KEY: SECRET_FILE}


def driver_tls(environ: Mapping[str, str] | None = None) -> ssl.SSLContext | None:
    """The client context that verifies the master (``DCOS_CA_FILE``, set by the agent when
    security is on), or None (plain http)."""
    env = os.environ if environ is None else environ
    ca = env.get("DCOS_CA_FILE") or env.get("LIBPROCESS_SSL_CA_FILE")
    return ssl.create_default_context(cafile=ca) if ca else None


def driver_credentials(conf: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Basic credentials from ``spark.mesos.principal`` and ``spark.mesos.secret`` or the file
    ``spark.mesos.secret.file`` (relative paths: under ``MESOS_SANDBOX``, else the working
    directory); None without a principal. An unreadable secret file is logged (the master
    will then refuse the driver with 401)."""
    principal = conf.get(PRINCIPAL_KEY)
    if not principal:
        return None
    secret = conf.get(SECRET_KEY)
    name = conf.get(SECRET_FILE_KEY)
    if secret is None and name:
        env = os.environ if environ is None else environ
        path = Path(name) if os.path.isabs(name) else Path(env.get("MESOS_SANDBOX") or os.getcwd()) / name
        try:
            secret = path.read_text().strip()
        except OSError as exc:
            log.error("cannot read the secret of principal %s from %s: %s", principal, path, exc)
            return None
    return Credentials(principal, secret or "")


async def publish_driver_secret(session: aiohttp.ClientSession, master_url: str, path: str,
                                secret: str) -> str | None:  # fmt: skip
    """Store `secret` at `path` in the master's secret store (create, or update when it
    exists); None when done, else what went wrong. Called by the dispatcher when it
    (re)subscribes. The value is sent only to the master (mutual TLS) and never logged."""
    url = f"{master_url.rstrip('/')}/secrets/v1/secret/default/{path}"
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with session.put(url, json={"value": secret}, timeout=timeout) as resp:
            if resp.status in (200, 201, 204):
                return None
            if resp.status != 409:
                return f"PUT {path}: HTTP {resp.status} {(await resp.text())[:200]}"
        async with session.patch(url, json={"value": secret}, timeout=timeout) as resp:
            if resp.status in (200, 201, 204):
                return None
            return f"PATCH {path}: HTTP {resp.status} {(await resp.text())[:200]}"
    except (TimeoutError, aiohttp.ClientError) as exc:
        return f"{path}: {exc or type(exc).__name__}"
