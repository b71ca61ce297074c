"""`dcos-py install` and `dcos-py uninstall`: which steps run, in which order, on which hosts,
and what the operator is shown (a result table per step, then one line per failure:
``host  step/check  reason``).

- No step flag: genconf, preflight, deploy, postflight. It stops after the first step in which
  a host failed (exit 1); deploy still finishes every other host before it stops.
- Step flags (``--genconf``, ``--preflight``, ``--deploy``, ``--postflight``) run just those, in
  that order; a step after genconf reads the bundle genconf left in ``genconf/serve``.
- ``--validate-config`` only checks the config; ``--upgrade``, ``--add-agent``,
  ``--remove-agent`` are modes of their own. A config problem lists every problem and exits 1
  before any host is touched.

The steps are the other installer modules (`genconf`, `preflight`, `deploy`, `postflight`,
`upgrade`, `nodes`, `uninstall`), imported when first used; `StepFunctions` lets unit tests
put fakes in their place. Step functions may be sync or async (a coroutine is run here).

Called by: `dcos.cli.commands.install` (`install` -> `run`, `uninstall` -> `run_uninstall`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dcos.installer import inventory
from dcos.installer.config import ClusterConfig, ConfigInvalid, HostSpec, load

STEPS = ("genconf", "preflight", "deploy", "postflight")
ROLE_TEXT = {"master": "master", "agent": "agent", "public_agent": "public agent"}


@dataclass
class InstallOptions:
    """What the command line asked for (see `dcos.cli.commands.install`)."""

    config: Path = Path("cluster.yaml")
    genconf_dir: Path | None = None
    validate_config: bool = False
    genconf: bool = False
    preflight: bool = False
    deploy: bool = False
    postflight: bool = False
    upgrade: bool = False
    add_agent: str | None = None
    remove_agent: str | None = None
    public: bool = False
    hosts: tuple[str, ...] = ()
    source: Path | None = None
    yes: bool = False
    quiet: bool = False


class UsageProblem(Exception):
    """Options that do not go together (one line for the operator)."""


def plan(opts: InstallOptions) -> tuple[str, tuple[str, ...]]:
    """The mode and the steps it runs: ``("validate", ())``, ``("steps", (...))``,
    ``("upgrade", ())``, ``("add_agent", ())``, ``("remove_agent", ())``. `UsageProblem` for
    flags that do not combine."""
    flagged = tuple(s for s in STEPS if getattr(opts, s))
    modes = [name for name, on in (
        ("--validate-config", opts.validate_config), ("--upgrade", opts.upgrade),
        ("--add-agent", opts.add_agent is not None),
        ("--remove-agent", opts.remove_agent is not None)) if on]
    if len(modes) > 1:
        raise UsageProblem(f"{' and '.join(modes)} do not go together: give one")
    if modes and flagged:
        raise UsageProblem(f"{modes[0]} does not go with "
                           f"{', '.join('--' + s for s in flagged)}")
    if opts.public and opts.add_agent is None:
        raise UsageProblem("--public goes with --add-agent HOST")
    if opts.hosts and (opts.add_agent is not None or opts.remove_agent is not None):
        raise UsageProblem(f"{modes[0]} names its host: --hosts does not go with it")
    builds = opts.upgrade or opts.add_agent is not None or (
        not modes and "genconf" in (flagged or STEPS))
    if opts.source is not None and not builds:
        raise UsageProblem("--source is for the steps that build a bundle (genconf, --upgrade, "
                           "--add-agent)")
    if opts.validate_config:
        return "validate", ()
    if opts.upgrade:
        return "upgrade", ()
    if opts.add_agent is not None:
        return "add_agent", ()
    if opts.remove_agent is not None:
        return "remove_agent", ()
    return "steps", flagged or STEPS


# --- the step functions ---------------------------------------------------------------------

_REAL = {
    "genconf": ("dcos.installer.genconf", "genconf"),
    "read_manifest": ("dcos.installer.bundle", "read_manifest"),
    "preflight": ("dcos.installer.preflight", "preflight"),
    "preflight_table": ("dcos.installer.preflight", "preflight_table"),
    "deploy": ("dcos.installer.deploy", "deploy"),
    "postflight": ("dcos.installer.postflight", "postflight"),
    "upgrade": ("dcos.installer.upgrade", "upgrade"),
    "add_agent": ("dcos.installer.nodes", "add_agent"),
    "remove_agent": ("dcos.installer.nodes", "remove_agent"),
    "uninstall": ("dcos.installer.uninstall", "uninstall"),
    "make_progress": ("dcos.installer.progress", "make_progress"),
}


@dataclass
class StepFunctions:
    """The functions each step calls; None: the real one (imported on first use)."""

    overrides: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in _REAL:
            if name in self.overrides:
                return self.overrides[name]
            module, attr = _REAL[name]
            fn: Callable[..., Any] = getattr(importlib.import_module(module), attr)
            return fn
        raise AttributeError(name)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a step function; run it to the end when it is a coroutine."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


# --- the run --------------------------------------------------------------------------------


@dataclass
class _Run:
    opts: InstallOptions
    steps: StepFunctions
    out: Console
    err: Console
    progress: Any = None
    step: str = ""  # the step running now (named when it raises)

    def say(self, text: str) -> None:
        self.out.print(text, markup=False, highlight=False, soft_wrap=True)

    def fail(self, text: str) -> int:
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)
        return 1

    def make_progress(self) -> Any:
        if self.progress is None:
            quiet = True if self.opts.quiet else None
            self.progress = _call(self.steps.make_progress, quiet=quiet, say=self.say)
        return self.progress


def _console(stderr: bool = False) -> Console:
    """Wide when not a terminal (logs, CI), so the tables do not fold."""
    tty = (sys.stderr if stderr else sys.stdout).isatty()
    return Console(stderr=stderr, width=None if tty else 200)


def run(opts: InstallOptions, *, steps: StepFunctions | None = None,
        out: Console | None = None, err: Console | None = None, progress: Any = None) -> int:
    """`dcos-py install`: 0 when every host of every step succeeded, 1 otherwise (config
    problems, a failed host, options that do not combine)."""
    r = _Run(opts, steps or StepFunctions(), out or _console(), err or _console(stderr=True),
             progress)
    try:
        mode, chosen = plan(opts)
    except UsageProblem as exc:
        return r.fail(str(exc))
    loaded = _load_hosts(r)
    if loaded is None:
        return 1
    cfg, hosts = loaded
    try:
        if mode == "validate":
            r.say(f"{opts.config}: valid. {summary(cfg)}")
            return 0
        if mode == "upgrade":
            return _upgrade(r, cfg, hosts)
        if mode == "add_agent":
            return _add_agent(r, cfg, opts.add_agent or "", opts.public)
        if mode == "remove_agent":
            return _remove_agent(r, cfg, opts.remove_agent or "")
        return _steps(r, cfg, hosts, chosen)
    except operator_errors() as exc:
        return r.fail(f"{r.step or mode.replace('_', ' ')} failed: {_one_line(exc)}")
    except KeyboardInterrupt:
        return r.fail("interrupted: run the same command again to finish (hosts already done "
                      "are left as they are)")


def _load(r: _Run) -> ClusterConfig | None:
    """The config with genconf/inventory.json applied; None after printing every problem."""
    try:
        cfg = load(r.opts.config)
        if r.opts.genconf_dir is not None:
            cfg = dataclasses.replace(cfg, genconf_override=r.opts.genconf_dir.absolute())
        return inventory.effective(cfg)
    except ConfigInvalid as exc:
        n = len(exc.problems)
        r.fail(f"{r.opts.config} is not valid ({n} problem{'s' if n != 1 else ''}); no host "
               "was touched:")
        for problem in exc.problems:
            r.fail(f"  {problem}")
        return None


def select_hosts(cfg: ClusterConfig, wanted: Sequence[str]) -> list[HostSpec]:
    """Every host of `cfg`, or those named by ``--hosts`` (in the config's order);
    `UsageProblem` naming any address that is not a host of the cluster."""
    every = cfg.hosts()
    if not wanted:
        return every
    chosen: list[HostSpec] = []
    unknown: list[str] = []
    for text in wanted:
        host = cfg.host(text.strip())
        if host is None:
            unknown.append(text)
        elif host not in chosen:
            chosen.append(host)
    if unknown:
        raise UsageProblem(f"--hosts: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'}"
                           " not in the cluster (master_list, agent_list, public_agent_list)")
    return [h for h in every if h in chosen]


def summary(cfg: ClusterConfig) -> str:
    zk = "ZooKeeper on the masters" if cfg.zk_on_masters else \
        f"external ZooKeeper {','.join(cfg.zk_external)}"
    return (f"cluster {cfg.cluster_name}: {len(cfg.masters)} master(s), {len(cfg.agents)} "
            f"agent(s), {len(cfg.public_agents)} public agent(s); {zk}; security "
            f"{'on' if cfg.security.enabled else 'off'}")


def _steps(r: _Run, cfg: ClusterConfig, hosts: list[HostSpec], chosen: tuple[str, ...]) -> int:
    manifest = None
    if "genconf" in chosen:
        manifest = _genconf(r, cfg)
        if manifest is None:
            return 1
    elif any(s in chosen for s in ("preflight", "deploy", "postflight")):
        manifest = _manifest(r, cfg)
        if manifest is None:
            return 1
    if "preflight" in chosen:
        r.step = "preflight"
        results = _call(r.steps.preflight, cfg, hosts, manifest, r.make_progress())
        r.out.print(_call(r.steps.preflight_table, results))
        if _report(r, "preflight", cfg, results):
            return r.fail("preflight failed: fix the checks above and run again (docs/install.md "
                          "explains each check)")
    if "deploy" in chosen:
        r.step = "deploy"
        results = _call(r.steps.deploy, cfg, hosts, manifest, r.make_progress())
        r.out.print(result_table("deploy", cfg, results))
        if _report(r, "deploy", cfg, results):
            return r.fail("deploy failed on some hosts: run again to retry them (hosts already "
                          "installed are left as they are)")
    if "postflight" in chosen:
        r.step = "postflight"
        outcome = _call(r.steps.postflight, cfg, manifest, r.make_progress(), say=r.say)
        if isinstance(outcome, int):
            return outcome
        r.out.print(result_table("postflight", cfg, outcome))
        if _report(r, "postflight", cfg, outcome):
            return r.fail("postflight failed: the cluster is not healthy yet (see the hosts' "
                          "logs in " f"{cfg.genconf_dir / 'logs'})")
    return 0


def operator_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a step raises for the operator to read (one line, no traceback): the
    bundle's `BundleError`, an SSH `HostError`, a config problem, a file that cannot be read or
    written."""
    from dcos.installer.bundle import BundleError
    from dcos.installer.ssh import HostError

    return (BundleError, HostError, ConfigInvalid, OSError)


def _genconf(r: _Run, cfg: ClusterConfig) -> Any:
    """Build the bundle; the manifest, or None after saying why it failed."""
    try:
        return _call(r.steps.genconf, cfg, source=r.opts.source, say=r.say)
    except operator_errors() as exc:
        r.fail(f"genconf failed: {_one_line(exc)}")
        return None


def _manifest(r: _Run, cfg: ClusterConfig) -> Any:
    serve = cfg.genconf_dir / "serve"
    try:
        return _call(r.steps.read_manifest, serve)
    except operator_errors() as exc:
        r.fail(_one_line(exc))
        return None


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


def _report(r: _Run, step: str, cfg: ClusterConfig, results: Sequence[Any]) -> bool:
    """Print ``host  step/check  reason`` for each failure; True when anything failed."""
    lines = failure_lines(step, cfg, results)
    for line in lines:
        r.fail(line)
    return bool(lines)


def failure_lines(step: str, cfg: ClusterConfig, results: Sequence[Any]) -> list[str]:
    """One line per failed host (or per failed preflight check): ``host  step/check  reason``."""
    out: list[str] = []
    for result in results:
        if result.ok:
            continue
        failed = [c for c in getattr(result, "checks", []) if not c.ok]
        if failed:
            out.extend(f"{result.address}  {step}/{c.check}  {c.detail}" for c in failed)
        else:
            out.append(f"{result.address}  {step}  {result.detail}")
    return out


def result_table(step: str, cfg: ClusterConfig, results: Sequence[Any]) -> Table:
    """host, role, status (ok/FAILED), detail: one row per host."""
    table = Table(title=step[:1].upper() + step[1:])
    for column in ("host", "role", "status", "detail"):
        table.add_column(column, overflow="fold")
    for result in results:
        host = cfg.host(result.address)
        role = ROLE_TEXT.get(host.role, host.role) if host else ""
        status = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
        table.add_row(result.address, role, status, result.detail)
    return table


# --- upgrade, add, remove, uninstall ---------------------------------------------------------


def _upgrade(r: _Run, cfg: ClusterConfig, hosts: list[HostSpec]) -> int:
    previous = _previous_manifest(r, cfg)
    manifest = _genconf(r, cfg)
    if manifest is None:
        return 1
    problem = downgrade_problem(previous, manifest)
    if problem is not None:
        return r.fail(problem)
    was = f"; the last bundle was {previous.version} (build {previous.build_id})" if previous else ""
    r.say(f"rolling out dcos-py {manifest.version} (build {manifest.build_id}){was}")
    results = _call(r.steps.upgrade, cfg, hosts, manifest, r.make_progress())
    r.out.print(result_table("upgrade", cfg, results))
    if _report(r, "upgrade", cfg, results):
        return r.fail("upgrade stopped: fix the host above and run `dcos-py install --upgrade` "
                      "again (upgraded hosts are left as they are)")
    return 0


def _load_hosts(r: _Run) -> tuple[ClusterConfig, list[HostSpec]] | None:
    """The config and the hosts ``--hosts`` selects (all without it); None after saying why
    not. Called by `run` and `run_uninstall` before any step."""
    cfg = _load(r)
    if cfg is None:
        return None
    try:
        return cfg, select_hosts(cfg, r.opts.hosts)
    except UsageProblem as exc:
        r.fail(str(exc))
        return None


def _previous_manifest(r: _Run, cfg: ClusterConfig) -> Any:
    """The bundle's manifest before `--upgrade` builds the new one (None when there is none)."""
    try:
        return _call(r.steps.read_manifest, cfg.genconf_dir / "serve")
    except operator_errors():
        return None


def downgrade_problem(previous: Any, new: Any) -> str | None:
    """Why `--upgrade` must not roll `new` out: its version is older than the bundle the
    cluster was installed or upgraded from (`previous`; PEP 440 order). Called by `_upgrade`
    after genconf: an upgrade builds from the dcos-py it runs (or `--source`), so running it
    from an older dcos-py would silently roll the cluster back."""
    from packaging.version import InvalidVersion, Version

    if previous is None:
        return None
    try:
        older = Version(str(new.version)) < Version(str(previous.version))
    except InvalidVersion:
        return None
    if not older:
        return None
    return (f"--upgrade: the new bundle is dcos-py {new.version}, older than the cluster's "
            f"{previous.version}: nothing was rolled out (genconf/serve now holds "
            f"{new.version}); run the upgrade with the new dcos-py installed here, or pass "
            "--source <its checkout>")


def _add_agent(r: _Run, cfg: ClusterConfig, address: str, public: bool) -> int:
    from dcos.installer.config import with_agent

    try:
        grown = with_agent(cfg, address, public)
    except ConfigInvalid as exc:
        return r.fail(f"--add-agent: {exc.problems[0].message}")
    host = grown.host(address)
    assert host is not None
    results = _call(r.steps.add_agent, grown, host, progress=r.make_progress(), say=r.say,
                    source=r.opts.source)
    results = results if isinstance(results, list) else [results]
    r.out.print(result_table("add agent", grown, results))
    if _report(r, "add-agent", grown, results):
        return r.fail(f"{host.address} was not added: fix the problem above and run the same "
                      "command again")
    inventory.record_added(cfg, host.address, public)
    r.say(f"{host.address} joined the cluster as {'a public agent' if public else 'an agent'} "
          f"(remembered in {inventory.inventory_path(cfg)})")
    return 0


def _remove_agent(r: _Run, cfg: ClusterConfig, address: str) -> int:
    from dcos.installer.config import without_host

    try:
        without_host(cfg, address)
    except ConfigInvalid as exc:
        return r.fail(f"--remove-agent: {exc.problems[0].message}")
    host = cfg.host(address)
    assert host is not None
    results = _call(r.steps.remove_agent, cfg, host, progress=r.make_progress(), say=r.say)
    results = results if isinstance(results, list) else [results]
    r.out.print(result_table("remove agent", cfg, results))
    if _report(r, "remove-agent", cfg, results):
        return r.fail(f"{host.address} was not removed completely: run the same command again")
    inventory.record_removed(cfg, host.address)
    r.say(f"{host.address} left the cluster: its tasks run elsewhere, it is uninstalled")
    return 0


def run_uninstall(opts: InstallOptions, *, confirm: Callable[[str], bool],
                  steps: StepFunctions | None = None, out: Console | None = None,
                  err: Console | None = None, progress: Any = None) -> int:
    """`dcos-py uninstall`: stop everything and remove what the installer put on the hosts
    (all of them, or ``--hosts``); `confirm(question)` is asked first unless ``opts.yes``."""
    r = _Run(opts, steps or StepFunctions(), out or _console(), err or _console(stderr=True),
             progress)
    loaded = _load_hosts(r)
    if loaded is None:
        return 1
    cfg, hosts = loaded
    names = ", ".join(h.address for h in hosts)
    if not opts.yes and not confirm(f"Uninstall dcos-py from {len(hosts)} host(s) ({names}), "
                                    "killing every task running there?"):
        return r.fail("nothing uninstalled")
    try:
        results = _call(r.steps.uninstall, cfg, hosts, r.make_progress())
    except KeyboardInterrupt:
        return r.fail("interrupted: run `dcos-py uninstall` again to finish")
    r.out.print(result_table("uninstall", cfg, results))
    if _report(r, "uninstall", cfg, results):
        return r.fail("uninstall failed on some hosts: run it again to retry them")
    return 0
