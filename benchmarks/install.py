"""Installer benchmark: `dcos-py install` of 3 masters + 3 agents (2 private, 1 public) on the
test bed (`installer/testbed/netns.sh`: hosts as network namespaces with their own sshd and
private install dirs, over real SSH), from a built bundle, and a rolling upgrade.

Measured (wall clock of each `dcos-py install` step as a subprocess):

- genconf: the bundle from this checkout, cold (every wheel built) and again (dependency
  wheels reused, host dirs rebuilt);
- install: ``--preflight``, ``--deploy`` and ``--postflight`` (a working cluster: a leader,
  every agent registered, the services and DNS answering) and their sum;
- upgrade: ``--genconf --source <a copy of the checkout with the version bumped>`` then
  ``--upgrade --source <it>`` (one host at a time; it builds its bundle again, about the
  genconf time), and the rolling part's time per host.

Baseline, measured in the same run: the raw work an installer cannot avoid: ``pip install
--no-index`` of the same wheels (serve/wheels) into a fresh venv on one host (over SSH, on h1),
T. The deploy floor is T x hosts / min(hosts, cores, ssh_parallelism) (pip is CPU-bound and
every host shares this machine's cores); the ratios printed are deploy / floor and upgrade per
host / T. For context (not measured here): the DC/OS installer took about 10-20 minutes for a
small cluster.

Needs root (network namespaces) and Debian openssh-server; leaves nothing running (the bed is
torn down, also on failure).

    .venv/bin/python benchmarks/install.py [--keep] [--no-upgrade]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import ROOT

sys.path.insert(0, os.path.join(ROOT, "installer", "testbed"))
from bed import Bed, address  # noqa: E402

from tests.installer.conftest import cli_env, cluster_dict, copy_checkout  # noqa: E402

MASTERS = [address(i) for i in (1, 2, 3)]
AGENTS = [address(4), address(5)]
PUBLIC = [address(6)]
DCOS_CONTEXT = "the DC/OS installer took about 10-20 minutes for a small cluster"


def cli() -> list[str]:
    script = Path(sys.executable).parent / "dcos-py"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dcos.cli"]


def step(config: Path, *args: str, timeout: float = 900, verbose: bool = False) -> float:
    """Run ``dcos-py install --config CONFIG ARGS``; its wall seconds. Exit != 0 -> SystemExit
    with its output."""
    argv = [*cli(), "install", "--config", str(config), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, env=cli_env(), cwd=config.parent)  # fmt: skip
    seconds = time.perf_counter() - t0
    if verbose or proc.returncode != 0:
        print(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode} after {seconds:.1f} s")
    print(f"  install {' '.join(args):<40} {seconds:7.1f} s")
    return seconds


def pip_floor(bed: Bed, wheels: Path) -> float:
    """Seconds of a bare ``pip install --no-index`` of `wheels` into a fresh venv on h1 over
    SSH (the venv is removed after)."""
    stage = bed.host_dir(1) / "opt" / "bench-wheels"
    shutil.copytree(wheels, stage)
    venv = "/opt/dcos-py/bench-venv"
    ssh = ["ssh", "-i", str(bed.key), "-o", "StrictHostKeyChecking=no", "-o",
           "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{address(1)}"]  # fmt: skip
    dcos_wheel = next(p.name for p in wheels.glob("dcos_py-*.whl"))
    cmd = (f"/usr/bin/python3 -m venv {venv} && {venv}/bin/pip install -q --no-index "
           f"--find-links /opt/dcos-py/bench-wheels /opt/dcos-py/bench-wheels/{dcos_wheel}")  # fmt: skip
    try:
        t0 = time.perf_counter()
        subprocess.run([*ssh, cmd], check=True, timeout=600)
        return time.perf_counter() - t0
    finally:
        subprocess.run([*ssh, f"rm -rf {venv} /opt/dcos-py/bench-wheels"], timeout=120)


def installed_version(bed: Bed, i: int) -> str:
    """The version in host `i`'s /etc/dcos-py/installed.json ('' when absent)."""
    try:
        return str(json.loads((bed.host_dir(i) / "etc" / "installed.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return ""


def bump_version(checkout: Path) -> str:
    pyproject = checkout / "pyproject.toml"
    lines = pyproject.read_text().splitlines(keepends=True)
    for n, line in enumerate(lines):
        if line.startswith("version = "):
            new = line.split('"')[1] + ".post1"
            lines[n] = f'version = "{new}"\n'
            pyproject.write_text("".join(lines))
            return new
    raise SystemExit("no version in pyproject.toml")


def run(args: argparse.Namespace, work: Path) -> None:
    bed = Bed(6, work / "bed")
    t0 = time.perf_counter()
    bed.up()
    print(f"test bed: 6 hosts up in {time.perf_counter() - t0:.1f} s")
    try:
        config = work / "cluster.yaml"
        raw = cluster_dict(bed, agent_list=AGENTS, public_agent_list=PUBLIC)
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        hosts = len(MASTERS) + len(AGENTS) + len(PUBLIC)
        print("genconf:")
        genconf_cold = step(config, "--genconf", verbose=args.verbose)
        genconf_warm = step(config, "--genconf", verbose=args.verbose)
        print("install:")
        pre = step(config, "--preflight", verbose=args.verbose)
        deploy = step(config, "--deploy", verbose=args.verbose)
        post = step(config, "--postflight", verbose=args.verbose)
        install = pre + deploy + post
        floor_one = pip_floor(bed, work / "genconf" / "serve" / "wheels")
        parallel = min(hosts, os.cpu_count() or 1, int(raw["ssh_parallelism"]))
        floor = floor_one * hosts / parallel
        upgrade = genconf_new = 0.0
        if not args.no_upgrade:
            print("upgrade:")
            source = copy_checkout(work / "newbuild")
            new = bump_version(source)
            genconf_new = step(config, "--genconf", "--source", str(source), verbose=args.verbose)
            # --upgrade builds its bundle again (from --source): about genconf_new of it
            upgrade = step(config, "--upgrade", "--source", str(source), verbose=args.verbose)
            versions = {installed_version(bed, i) for i in range(1, hosts + 1)}
            if versions != {new}:
                raise SystemExit(f"upgrade: hosts report {versions}, expected {new}")
            print(f"  every host runs {new}")

        print(f"\n--- install of {len(MASTERS)} masters + {len(AGENTS)} agents + {len(PUBLIC)} "
              f"public agent over SSH ({os.cpu_count()} cores) ---")  # fmt: skip
        print(f"genconf (bundle from the checkout): cold {genconf_cold:.1f} s, "
              f"again {genconf_warm:.1f} s")  # fmt: skip
        print(f"install: preflight {pre:.1f} s + deploy {deploy:.1f} s + postflight {post:.1f} s "
              f"= {install:.1f} s")  # fmt: skip
        print(f"baseline: pip install --no-index of the bundle's wheels into a fresh venv on one "
              f"host {floor_one:.1f} s; floor for {hosts} hosts at parallelism {parallel}: "
              f"{floor:.1f} s")  # fmt: skip
        print(f"deploy / floor: {deploy / floor:.2f}x; install / floor: {install / floor:.2f}x")
        if not args.no_upgrade:
            rolling = max(upgrade - genconf_new, 0.0)
            per_host = rolling / hosts
            print(f"upgrade: genconf of the new build {genconf_new:.1f} s; --upgrade {upgrade:.1f} s "
                  f"(its own bundle build ~{genconf_new:.1f} s + rolling {rolling:.1f} s) = "
                  f"{per_host:.1f} s per host, one at a time "
                  f"({per_host / floor_one:.2f}x one host's pip install)")  # fmt: skip
        total = genconf_cold + install
        print(f"context: {DCOS_CONTEXT}; here genconf + install took {total / 60:.1f} min")
    finally:
        if args.keep:
            print(f"--keep: the bed is still up under {bed.dir} (netns.sh down {bed.dir})")
        else:
            bed.down()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", action="store_true", help="leave the bed and work dir in place")
    p.add_argument("--no-upgrade", action="store_true", help="skip the upgrade")
    p.add_argument("-v", "--verbose", action="store_true", help="print every step's output")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("benchmarks/install.py builds network namespaces: run as root")
    work = Path(tempfile.mkdtemp(prefix="dcpy-install-bench-"))
    try:
        run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
