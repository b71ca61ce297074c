"""Start a Dask scheduler or worker in a dcos-py task of the `dask` package.

The package's apps run `"$DCOS_PYTHON" -S -m dcos_dask scheduler|worker ... -- <dask args>`
with this project's own wheel on PYTHONPATH (pure Python, imported straight from the zip).
It then:

1. installs every wheel of the fetched set (`$MESOS_SANDBOX/dask/*.whl`, extracted there by the
   agent's fetcher) into `$MESOS_SANDBOX/pylib` by unpacking the wheel zips (no index, no pip:
   about 1 s for the set, against 3 s for `pip install --no-index --no-deps --no-compile
   --target` and 10 s with pip's byte-compiling; the set's wheels have no scripts or headers
   to place, and a `<dist>.data/purelib|platlib` tree is moved to the top);
2. re-executes itself as `python -S -m dcos_dask ...` on exactly the installed set (PYTHONPATH
   `pylib`; `-S`: the agent interpreter's own site-packages stay out, so the set must be
   complete; Dask's spill files in the sandbox);
3. there starts importing Dask in a thread (seconds: a new sandbox has no .pyc) while a worker
   waits until dcos-py DNS names its scheduler (SRV of the port named `scheduler` of the app
   `scheduler` next to its own app, at `$DCOS_DNS_RESOLVER`) and that address accepts
   connections;
4. runs Dask's own command line (`distributed.cli.dask_scheduler|dask_worker` `main`) in that
   process, with the arguments after `--` (and the scheduler's address for a worker).

Called by the marathon.json.mustache of packages-repo/packages/dask (the task command).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from dcos_dask import srv

MODULES = {"scheduler": "distributed.cli.dask_scheduler", "worker": "distributed.cli.dask_worker"}
STAMP = ".dcos-dask-installed"


def log(message: str) -> None:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    print(f"{stamp} - dcos_dask - {message}", file=sys.stderr, flush=True)


def _unpack(wheel: str, pylib: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(pylib)
        data_dirs = {n.split("/", 1)[0] for n in z.namelist() if n.split("/", 1)[0].endswith(".data")}
    for data in data_dirs:
        for scheme in ("purelib", "platlib"):
            tree = os.path.join(pylib, data, scheme)
            if os.path.isdir(tree):
                shutil.copytree(tree, pylib, dirs_exist_ok=True)
                shutil.rmtree(tree)


def dist_name(wheel: str) -> str:
    """The normalized distribution name of a wheel file (`Pillow-13.0-...whl` -> `pillow`)."""
    return os.path.basename(wheel).split("-", 1)[0].lower().replace(".", "_").replace("-", "_")


def install_wheels(wheels: str, pylib: str, without: Collection[str] = ()) -> int:
    """Unpack every `*.whl` in `wheels` into `pylib` (several at once, largest first), except
    the distributions named in `without`; the number of wheels unpacked. A `pylib` already
    stamped is kept (a task restarted in its sandbox). Raises SystemExit when `wheels` holds
    none."""
    if os.path.exists(os.path.join(pylib, STAMP)):
        return 0
    names = sorted((n for n in os.listdir(wheels) if n.endswith(".whl")) if os.path.isdir(wheels) else [])
    if not names:
        raise SystemExit(f"dcos_dask: no wheels in {wheels} (was the asset fetched?)")
    skip = {dist_name(w) for w in without}
    names = [n for n in names if dist_name(n) not in skip]
    paths = sorted((os.path.join(wheels, n) for n in names), key=os.path.getsize, reverse=True)
    os.makedirs(pylib, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda w: _unpack(w, pylib), paths))
    with open(os.path.join(pylib, STAMP), "w") as f:
        f.write("\n".join(names) + "\n")
    return len(names)


def _accepts(endpoint: srv.Endpoint, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_scheduler(app_id: str, port_name: str, resolver: tuple[str, int],
                       timeout: float) -> srv.Endpoint:  # fmt: skip
    """The scheduler's address once DNS names it and it accepts connections; retries (0.1 s
    growing to 0.5 s: a worker starts right after its scheduler) and logs each new reason;
    SystemExit after `timeout` seconds (0: never)."""
    name = srv.srv_name(app_id, port_name)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    delay, last = 0.1, ""
    while True:
        try:
            found = srv.lookup_srv(name, resolver)
            reason = f"{name}: no SRV record yet" if not found else ""
            for endpoint in found:
                if _accepts(endpoint):
                    return endpoint
                reason = f"{name} -> {endpoint.host}:{endpoint.port} refuses connections"
        except srv.DnsError as exc:
            reason = str(exc)
        if reason != last:
            log(f"waiting for the scheduler: {reason}")
            last = reason
        if deadline is not None and time.monotonic() > deadline:
            raise SystemExit(f"dcos_dask: no scheduler after {timeout:g} s: {reason}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def sibling_app(app_id: str, own_app: str) -> str:
    """`app_id` when absolute, else the app of that name in the group of `own_app`
    (`scheduler` next to `/team/dask/workers` is `/team/dask/scheduler`)."""
    if app_id.startswith("/"):
        return app_id
    group = own_app.rstrip("/").rpartition("/")[0]
    return f"{group}/{app_id}"


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(options, the arguments after `--` passed on to Dask)."""
    argv = list(argv)
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    sandbox = os.environ.get("MESOS_SANDBOX") or os.getcwd()
    p = argparse.ArgumentParser(prog="python -m dcos_dask", description=__doc__.split("\n\n")[0])
    p.add_argument("role", choices=sorted(MODULES), help="what this task runs")
    p.add_argument("--wheels", default=os.path.join(sandbox, "dask"),
                   help="the fetched wheel set (default: $MESOS_SANDBOX/dask)")
    p.add_argument("--pylib", default=os.path.join(sandbox, "pylib"),
                   help="where to install it (default: $MESOS_SANDBOX/pylib)")
    p.add_argument("--scheduler-app", default="",
                   help="worker: the scheduler's app id; a relative one (`scheduler`) is a sibling"
                        " of this task's app ($MARATHON_APP_ID), so an install under another"
                        " app id still finds its own scheduler")
    p.add_argument("--port-name", default="scheduler",
                   help="worker: the scheduler app's port name in DNS (default: scheduler)")
    p.add_argument("--without", action="append", default=[], metavar="DIST",
                   help="a distribution of the set not to install (repeatable; e.g. a worker"
                        " started with --no-dashboard needs no bokeh)")
    p.add_argument("--resolver", default=None,
                   help="DNS server host:port (default: $DCOS_DNS_RESOLVER, else resolv.conf)")
    p.add_argument("--wait", type=float, default=0.0,
                   help="worker: seconds to wait for the scheduler (default 0: forever)")
    opts = p.parse_args(argv)
    if opts.role == "worker" and not opts.scheduler_app:
        p.error("a worker needs --scheduler-app")
    return opts, rest


def _running_from(pylib: str) -> bool:
    """Whether this module was imported from the installed set (the second stage)."""
    return os.path.abspath(__file__).startswith(os.path.abspath(pylib) + os.sep)


def main(argv: Sequence[str] | None = None) -> None:
    """First stage (imported from the launcher's wheel): install the set, then exec the same
    command on it. Second stage (imported from `pylib`): import Dask in a thread while a
    worker waits for its scheduler, then run Dask's command line in this process."""
    args = list(sys.argv[1:] if argv is None else argv)
    opts, dask_args = parse(args)
    if not _running_from(opts.pylib):
        started = time.monotonic()
        count = install_wheels(opts.wheels, opts.pylib, opts.without)
        if count:
            log(f"installed {count} wheels into {opts.pylib} in {time.monotonic() - started:.2f} s")
        scratch = os.path.join(os.path.dirname(os.path.abspath(opts.pylib)), "dask-scratch")
        os.makedirs(scratch, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=os.path.abspath(opts.pylib),
                   DASK_TEMPORARY_DIRECTORY=scratch)
        os.execve(sys.executable, [sys.executable, "-S", "-m", "dcos_dask", *args], env)
    module = MODULES[opts.role]
    importer = threading.Thread(target=importlib.import_module, args=(module,), daemon=True)
    importer.start()  # overlaps the imports (seconds without .pyc) with waiting for DNS
    if opts.role == "worker":
        try:
            resolver = srv.resolver_address(opts.resolver)
        except srv.DnsError as exc:
            raise SystemExit(f"dcos_dask: {exc}") from None
        app_id = sibling_app(opts.scheduler_app, os.environ.get("MARATHON_APP_ID", ""))
        at = wait_for_scheduler(app_id, opts.port_name, resolver, opts.wait)
        log(f"scheduler at {at.host}:{at.port}")
        dask_args = [f"tcp://{at.host}:{at.port}", *dask_args]
    importer.join()
    log(f"running {module} {' '.join(dask_args)}")
    command = importlib.import_module(module).main  # a click command; exits the process
    command(args=dask_args, prog_name=module)
