"""``dcos-py install --genconf``: build the bundle in ``genconf/serve`` (layout: `bundle`).

Called by `dcos.installer.main` (the ``--genconf`` step) and `dcos.installer.nodes.add_agent`
(``--add-agent``: ``keep_build=True``, the new host's certificate and etc dir on the cluster's
current build) with the effective config (`dcos.installer.inventory.effective`).
`genconf` does, in this order (nothing in serve/ changes before the wheels are built; a failure
later leaves the previous manifest and its wheels, and a re-run completes the bundle):

1. the dcos-py wheel, built from `source` (default: the checkout ``dcos`` is imported from) in a
   clean copy of its tree, with the build stamp (``scripts/stamp_build.py``'s `stamp_json`) and
   the built web UI (``dcos/web/dist``: refused without it, "run make web");
   ``SOURCE_DATE_EPOCH`` = the commit time, so the same source gives the same wheel and the same
   ``build_id`` (the first 16 hex digits of its sha256);
2. the dependency wheels (``pip wheel <dcos wheel>``; pip's cache makes a rebuild quick), reused
   as they are when ``genconf/wheels.lock.json`` says serve/wheels holds the same dependency set
   (requirements + Python tag + machine); an older dcos-py wheel is removed once the new
   manifest is written;
3. ``serve/repo``: the source's ``packages-repo/build`` (index.json, assets/, images/), when built;
4. ``genconf/cluster-id`` (a uuid4, made once);
5. security on: ``genconf/security`` (`dcos.installer.host_security.prepare`: CA, keys, per-host
   certificates, the bootstrap user);
6. per host ``serve/hosts/<address>/etc/``: ``security/`` (that role's files only),
   ``supervisord.conf``, ``systemd/*.service``, ``zookeeper/`` (masters of an ensemble on the
   masters), ``cluster.json``; the dirs of hosts no longer in the config are removed;
7. ``serve/manifest.json``, last.

The wheel build is behind `WheelBuilder` (`PipBuilder` runs pip); unit tests hand in a fake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from email.parser import HeaderParser
from pathlib import Path
from typing import Protocol

import orjson

import dcos
from dcos.installer import host_security, roles, units
from dcos.installer.bundle import (
    CLUSTER_JSON,
    DCOS_DIST,
    HOST_SECURITY,
    SUPERVISORD_CONF,
    SYSTEMD,
    ZOOKEEPER,
    BundleError,
    GenconfDir,
    Manifest,
    cluster_json,
    genconf_dir,
    installer_identity,
    read_manifest,
    write_atomic,
    write_manifest,
)
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.security.layout import SecurityDir

__all__ = ["PipBuilder", "WheelBuilder", "default_source", "genconf", "installer_identity"]

Say = Callable[[str], object]
WEB_INDEX = Path("dcos") / "web" / "dist" / "index.html"
REPO_BUILD = Path("packages-repo") / "build"
REPO_PARTS = ("index.json", "assets", "images")
# what a wheel is built from (a clean copy: no stale build/ dir, no node_modules)
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "setup.cfg", "setup.py")
SOURCE_DIRS = ("dcos", "frameworks")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".mypy_cache",
                              ".pytest_cache", "*.egg-info", ".ruff_cache")
PIP_TAIL_LINES = 15
EPOCH_1980 = 315532800  # zip's first representable time: SOURCE_DATE_EPOCH without a stamp


def default_source() -> Path:
    """The checkout ``dcos`` is imported from."""
    return Path(dcos.__file__).resolve().parents[1]


def python_tag(version: Sequence[int] | None = None) -> str:
    v = version or sys.version_info
    return f"cp{v[0]}{v[1]}"


class WheelBuilder(Protocol):
    """What genconf builds wheels with. `python` is the CPython tag of the wheels it makes."""

    python: str

    def build_dcos(self, source: Path, out_dir: Path) -> Path:
        """The dcos-py wheel of `source`, written into `out_dir`; BundleError on failure."""

    def build_deps(self, dcos_wheel: Path, out_dir: Path) -> list[Path]:
        """Every dependency wheel of `dcos_wheel` (not itself), written into `out_dir`."""


class PipBuilder:
    """`WheelBuilder` with ``<python> -m pip wheel`` (the bootstrap host's interpreter by
    default: the hosts must run the same CPython minor version)."""

    def __init__(self, python_exe: str = sys.executable, timeout_s: float = 1200) -> None:
        self.python_exe = python_exe
        self.timeout_s = timeout_s
        self.python = python_tag()

    def _run(self, argv: list[str], what: str, *, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                                  timeout=self.timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise BundleError(f"{what}: no answer after {self.timeout_s:.0f} s") from None
        except OSError as exc:
            raise BundleError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            lines = (done.stdout + done.stderr).strip().splitlines()
            useful = [ln for ln in lines if "is ignored: it is neither" not in ln]
            tail = "\n  ".join(useful[-PIP_TAIL_LINES:])
            raise BundleError(f"{what} failed (exit {done.returncode}):\n  {tail}")
        return done.stdout

    def stamp(self, source: Path) -> str | None:
        """The build stamp of `source` (a git checkout), or None (not a checkout)."""
        script = ("import sys; sys.path.insert(0, sys.argv[1]); "
                  "from dcos.common.version import stamp_json, version_info; "
                  "print(stamp_json() if version_info().git_sha != 'unknown' else '', end='')")
        out = self._run([self.python_exe, "-c", script, str(source)], "the build stamp",
                        cwd=source)  # fmt: skip
        return out or None

    def build_dcos(self, source: Path, out_dir: Path) -> Path:
        with tempfile.TemporaryDirectory(prefix="dcos-py-wheel-") as tmp:
            tree = copy_source(source, Path(tmp) / "src")
            stamp = self.stamp(source)
            if stamp is not None:
                (tree / "dcos" / "_build_stamp.json").write_text(stamp, encoding="utf-8")
            env = dict(os.environ, SOURCE_DATE_EPOCH=str(_epoch(tree)))
            self._run([self.python_exe, "-m", "pip", "wheel", "--no-deps", "-q", str(tree),
                       "-w", str(out_dir)], f"building the dcos-py wheel from {source}",
                      env=env)  # fmt: skip
        return _one_dcos_wheel(out_dir)

    def build_deps(self, dcos_wheel: Path, out_dir: Path) -> list[Path]:
        self._run([self.python_exe, "-m", "pip", "wheel", "-q", str(dcos_wheel), "-w",
                   str(out_dir)], "building the dependency wheels (pip wheel)")
        return sorted(p for p in out_dir.glob("*.whl") if not _is_dcos_wheel(p.name))


def _epoch(tree: Path) -> int:
    try:
        stamp = json.loads((tree / "dcos" / "_build_stamp.json").read_text(encoding="utf-8"))
        return max(EPOCH_1980, int(float(stamp["build_time"])))
    except (OSError, ValueError, KeyError, TypeError):
        return EPOCH_1980


def _is_dcos_wheel(name: str) -> bool:
    return name.startswith(f"{DCOS_DIST}-") and name.endswith(".whl")


def _one_dcos_wheel(out_dir: Path) -> Path:
    found = [p for p in out_dir.glob("*.whl") if _is_dcos_wheel(p.name)]
    if len(found) != 1:
        raise BundleError(f"expected one dcos-py wheel in {out_dir}, found {len(found)}")
    return found[0]


def check_source(source: Path) -> None:
    """BundleError unless `source` is a dcos-py tree with the web UI built."""
    if not (source / "pyproject.toml").is_file() or not (source / "dcos").is_dir():
        raise BundleError(f"{source} is not a dcos-py source tree (no pyproject.toml and "
                          "dcos/): give --source <a dcos-py checkout>")
    if not (source / WEB_INDEX).is_file():
        raise BundleError(f"{source / WEB_INDEX.parent} is missing: the web UI is not built; "
                          f"run `make web` in {source} first")


def copy_source(source: Path, dest: Path) -> Path:
    """What the wheel is built from, copied into `dest` (returned)."""
    dest.mkdir(parents=True)
    for name in SOURCE_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, dest / name)
    for name in SOURCE_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name, ignore=SKIP)
    return dest


def wheel_metadata(wheel: Path) -> tuple[str, list[str]]:
    """(Version, Requires-Dist lines) of a wheel's METADATA."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            name = next(n for n in zf.namelist()
                        if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            text = zf.read(name).decode("utf-8")
    except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as exc:
        raise BundleError(f"{wheel} is not a readable wheel ({exc})") from None
    meta = HeaderParser().parsestr(text)
    return str(meta.get("Version", "0+unknown")), sorted(meta.get_all("Requires-Dist") or [])


def deps_key(requires: list[str], python: str) -> str:
    """What decides the dependency set: the runtime requirements (no extras), the Python tag
    and the machine."""
    runtime = [r for r in requires if "extra ==" not in r and "extra==" not in r]
    doc = {"requires": runtime, "python": python, "machine": platform.machine()}
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


# -- the steps ---------------------------------------------------------------------------------


def _wheels(gd: GenconfDir, builder: WheelBuilder, dcos_wheel: Path, say: Say) -> list[str]:
    """serve/wheels: the dependency set (reused or rebuilt) + this dcos-py wheel; the names."""
    version, requires = wheel_metadata(dcos_wheel)
    key = deps_key(requires, builder.python)
    lock = _read_lock(gd.wheels_lock)
    deps: list[str] | None = None
    if lock is not None and lock.get("key") == key:
        raw = lock.get("wheels")
        listed = [str(n) for n in raw] if isinstance(raw, list) else []
        if listed and all((gd.wheels / n).is_file() for n in listed):
            deps = listed
            say(f"genconf: {len(deps)} dependency wheels unchanged (reused)")
    if deps is None:
        say("genconf: building the dependency wheels (pip wheel)")
        with tempfile.TemporaryDirectory(prefix="dcos-py-deps-") as tmp:
            built = builder.build_deps(dcos_wheel, Path(tmp))
            gd.wheels.mkdir(parents=True, exist_ok=True)
            deps = sorted(p.name for p in built)
            for path in built:
                shutil.copy2(path, gd.wheels / path.name)
        write_atomic(gd.wheels_lock, orjson.dumps({"key": key, "wheels": deps}))
        say(f"genconf: {len(deps)} dependency wheels")
    gd.wheels.mkdir(parents=True, exist_ok=True)
    tmp_copy = gd.wheels / f".{dcos_wheel.name}.tmp"
    shutil.copy2(dcos_wheel, tmp_copy)
    os.replace(tmp_copy, gd.wheels / dcos_wheel.name)
    return sorted({*deps, dcos_wheel.name})


def _prune_wheels(gd: GenconfDir, keep: Sequence[str]) -> None:
    """Remove what the manifest does not name (an older dcos-py, a dependency no longer
    needed): after the manifest is written, so a failed genconf leaves the old bundle whole."""
    if not gd.wheels.is_dir():
        return
    for path in gd.wheels.iterdir():
        if path.name not in keep:
            path.unlink() if path.is_file() or path.is_symlink() else shutil.rmtree(path)


def _read_lock(path: Path) -> dict[str, object] | None:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _copy_if_changed(src: Path, dst: Path) -> bool:
    st = src.stat()
    try:
        tt = dst.stat()
        if tt.st_size == st.st_size and tt.st_mtime_ns == st.st_mtime_ns:
            return False
    except FileNotFoundError:
        pass
    shutil.copy2(src, dst)
    return True


def sync_tree(src: Path, dst: Path) -> int:
    """Make `dst` a copy of `src` (files copied when their size or mtime differ, files not
    in `src` removed); the number of files copied."""
    copied = 0
    dst.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        wanted.add(rel)
        if path.is_dir():
            (dst / rel).mkdir(exist_ok=True)
        elif _copy_if_changed(path, dst / rel):
            copied += 1
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.relative_to(dst) not in wanted:
            path.unlink() if path.is_file() or path.is_symlink() else shutil.rmtree(path)
    return copied


def _repo(gd: GenconfDir, source: Path, say: Say) -> bool:
    """serve/repo from the source's packages-repo/build (only what the package service
    reads: `REPO_PARTS`); False (and no serve/repo) when it is not built."""
    build = source / REPO_BUILD
    if not (build / "index.json").is_file():
        if gd.repo.exists():
            shutil.rmtree(gd.repo)
        say(f"genconf: no package repository in the bundle ({build} is not built: `make repo`)")
        return False
    gd.repo.mkdir(parents=True, exist_ok=True)
    for entry in gd.repo.iterdir():
        if entry.name not in REPO_PARTS or not (build / entry.name).exists():
            entry.unlink() if entry.is_file() else shutil.rmtree(entry)
    copied = 0
    for part in REPO_PARTS:
        src = build / part
        if src.is_dir():
            copied += sync_tree(src, gd.repo / part)
        elif src.is_file():
            copied += _copy_if_changed(src, gd.repo / part)
    say(f"genconf: package repository bundled ({copied} files copied)")
    return True


def _cluster_id(gd: GenconfDir) -> str:
    try:
        text = gd.cluster_id.read_text(encoding="utf-8").strip()
        return str(uuid.UUID(text))
    except FileNotFoundError:
        pass
    except ValueError:
        raise BundleError(f"{gd.cluster_id} does not hold a cluster id (a uuid): fix or "
                          "remove it (a new id makes a new cluster)") from None
    new = str(uuid.uuid4())
    write_atomic(gd.cluster_id, new.encode() + b"\n")
    return new


def _write(path: Path, data: bytes) -> None:
    """A host config file, 0644 whatever the umask (deploy compares trees by content and
    mode: `dcos.installer.deploy.etc_digest`)."""
    path.parent.mkdir(mode=0o755, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_bytes(data)
    os.chmod(path, 0o644)


def _host_etc(cfg: ClusterConfig, gd: GenconfDir, host: HostSpec, manifest: Manifest,
              sd: SecurityDir | None) -> None:
    """serve/hosts/<address>/etc, written beside and swapped in whole."""
    final = gd.host_etc(host.address)
    tmp = final.with_name(f".etc.{os.getpid()}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    os.chmod(tmp, 0o755)
    try:
        specs = roles.services(cfg, host, cluster_id=manifest.cluster_id, repo=manifest.repo)
        if sd is not None:
            host_security.write_host_security(sd, host, tmp / HOST_SECURITY)
        _write(tmp / SUPERVISORD_CONF, units.supervisord_conf(cfg, host, specs).encode())
        for name, text in units.systemd_units(cfg, host, specs).items():
            _write(tmp / SYSTEMD / name, text.encode())
        for name, text in units.zookeeper_files(cfg, host).items():
            _write(tmp / ZOOKEEPER / name, text.encode())
        _write(tmp / CLUSTER_JSON, cluster_json(cfg, manifest, host.role, host.address))
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _hosts(cfg: ClusterConfig, gd: GenconfDir, manifest: Manifest,
           sd: SecurityDir | None) -> None:
    hosts = cfg.hosts()
    for host in hosts:
        _host_etc(cfg, gd, host, manifest, sd)
    wanted = {h.address for h in hosts}
    if gd.hosts.is_dir():
        for entry in gd.hosts.iterdir():
            if entry.name not in wanted:  # a removed agent
                shutil.rmtree(entry)


def _kept_build(gd: GenconfDir) -> Manifest | None:
    """The bundle's current build when serve/ holds all of it (manifest and wheels)."""
    try:
        manifest = read_manifest(gd.serve)
    except BundleError:
        return None
    names = manifest.wheels or (manifest.dcos_wheel,)
    if not all((gd.wheels / n).is_file() for n in names):
        return None
    if manifest.repo and not (gd.repo / "index.json").is_file():
        return None
    return manifest


def _build(gd: GenconfDir, source: Path, builder: WheelBuilder, say: Say) -> Manifest:
    """Build the wheels and copy the repo; a manifest of the build (cluster fields empty)."""
    with tempfile.TemporaryDirectory(prefix="dcos-py-genconf-") as tmp:
        say(f"genconf: building the dcos-py wheel from {source}")
        wheel = builder.build_dcos(source, Path(tmp))
        build_id = hashlib.sha256(wheel.read_bytes()).hexdigest()[:16]
        version, _ = wheel_metadata(wheel)
        gd.root.mkdir(parents=True, exist_ok=True)
        names = _wheels(gd, builder, wheel, say)
    repo = _repo(gd, source, say)
    return Manifest(version=version, build_id=build_id, python=builder.python,
                    cluster_name="", cluster_id="", dcos_wheel=wheel.name, repo=repo,
                    wheels=tuple(names))


def genconf(cfg: ClusterConfig, *, source: Path | None = None, say: Say = print,
            builder: WheelBuilder | None = None, keep_build: bool = False,
            now: float | None = None) -> Manifest:
    """Build or refresh the bundle of `cfg` (see the module docstring); returns its manifest.

    keep_build=True (``--add-agent``: a new host joins the build the cluster runs, it is no
    upgrade) reuses the bundle's current wheels, build id and repo when serve/ holds them all
    and only refreshes the certificates and the hosts' etc dirs; otherwise (or without a
    bundle yet) it builds. BundleError (one message) when it cannot: nothing in serve/ has
    changed then, unless the failure came after the wheels were in place (a re-run completes
    it)."""
    source = Path(source).resolve() if source is not None else default_source()
    gd = genconf_dir(cfg)
    started = time.monotonic()
    build = _kept_build(gd) if keep_build else None
    if build is not None:
        say(f"genconf: keeping build {build.build_id} (dcos-py {build.version})")
    else:
        check_source(source)
        build = _build(gd, source, builder or PipBuilder(), say)
    cluster_id = _cluster_id(gd)
    sd = None
    if cfg.security.enabled:
        try:
            sd = host_security.prepare(cfg, gd.security, say=say)
        except (OSError, ValueError) as exc:
            raise BundleError(f"cannot prepare the security directory {gd.security}: "
                              f"{exc}") from None
    manifest = dataclasses.replace(build, cluster_name=cfg.cluster_name, cluster_id=cluster_id,
                                   created=time.time() if now is None else now)
    try:
        _hosts(cfg, gd, manifest, sd)
    except (OSError, ValueError) as exc:  # a missing template, an unwritable dir
        raise BundleError(f"cannot write the hosts' configuration: {exc}") from None
    write_manifest(gd.serve, manifest)
    _prune_wheels(gd, manifest.wheels)
    say(f"genconf: bundle {manifest.build_id} (dcos-py {manifest.version}, "
        f"{len(manifest.wheels)} wheels, {len(cfg.hosts())} hosts) in {gd.serve} "
        f"({time.monotonic() - started:.1f} s)")
    return manifest
