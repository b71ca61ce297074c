"""dcos.installer.main: which steps run, in which order, on which hosts, and when it stops --
with fake step functions (no hosts, no SSH); plus the `install`/`uninstall` commands' options."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console
from typer.testing import CliRunner

from dcos.installer import inventory, main
from dcos.installer.bundle import BundleError
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.main import InstallOptions, StepFunctions, UsageProblem, plan
from dcos.installer.progress import QuietProgress
from dcos.installer.runner import CheckResult, HostResult

CONFIG = """\
cluster_name: test
master_list: [10.0.0.11, 10.0.0.12, 10.0.0.13]
agent_list: [10.0.0.21, 10.0.0.22]
public_agent_list: [10.0.0.31]
ssh_key_path: id_ed25519
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption())
    (tmp_path / "id_ed25519").write_bytes(key)
    path = tmp_path / "cluster.yaml"
    path.write_text(CONFIG)
    return path


@dataclass
class Manifest:
    build_id: str = "b1"
    version: str = "0.1.0"


class Fakes:
    """Step functions that record their calls; `fail` maps step -> {address: reason}."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail: dict[str, dict[str, str]] = {}
        self.bundle = True
        self.versions = {"read_manifest": "0.1.0", "genconf": "0.1.0"}

    def results(self, step: str, hosts: list[HostSpec]) -> list[HostResult]:
        bad = self.fail.get(step, {})
        return [HostResult(h.address, h.address not in bad, bad.get(h.address, "ok"))
                for h in hosts]

    def functions(self) -> StepFunctions:
        def genconf(cfg: ClusterConfig, *, source: Path | None, say: Any) -> Manifest:
            self.calls.append(("genconf", []))
            if "genconf" in self.fail:
                raise BundleError("pip wheel failed: no network")
            return Manifest(version=self.versions["genconf"])

        def read_manifest(serve: Path) -> Manifest:
            self.calls.append(("read_manifest", []))
            if not self.bundle:
                raise BundleError(f"no bundle in {serve}: run `dcos-py install --genconf` first")
            return Manifest(version=self.versions["read_manifest"])

        async def preflight(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest,
                            progress: Any) -> list[HostResult]:
            self.calls.append(("preflight", [h.address for h in hosts]))
            out = self.results("preflight", hosts)
            for r in out:
                r.checks = [CheckResult(r.address, "ssh", True, "ok"),
                            CheckResult(r.address, "ports", r.ok, r.detail)]
            return out

        def step(name: str) -> Any:
            async def run(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest,
                          progress: Any) -> list[HostResult]:
                self.calls.append((name, [h.address for h in hosts]))
                return self.results(name, hosts)
            return run

        async def uninstall(cfg: ClusterConfig, hosts: list[HostSpec], progress: Any
                            ) -> list[HostResult]:
            self.calls.append(("uninstall", [h.address for h in hosts]))
            return self.results("uninstall", hosts)

        async def postflight(cfg: ClusterConfig, manifest: Manifest, progress: Any,
                             say: Any) -> list[HostResult]:
            self.calls.append(("postflight", []))
            return self.results("postflight", [cfg.hosts()[0]])

        async def add_agent(cfg: ClusterConfig, host: HostSpec, **kw: Any) -> list[HostResult]:
            self.calls.append(("add_agent", [host.address, host.role]))
            return self.results("add_agent", [host])

        async def remove_agent(cfg: ClusterConfig, host: HostSpec, **kw: Any
                               ) -> list[HostResult]:
            self.calls.append(("remove_agent", [host.address]))
            return self.results("remove_agent", [host])

        def make_progress(**kw: Any) -> QuietProgress:
            return QuietProgress(lambda s: None)

        return StepFunctions({
            "genconf": genconf, "read_manifest": read_manifest, "preflight": preflight,
            "preflight_table": lambda results: f"<table of {len(results)}>",
            "deploy": step("deploy"), "upgrade": step("upgrade"),
            "uninstall": uninstall, "postflight": postflight,
            "add_agent": add_agent, "remove_agent": remove_agent,
            "make_progress": make_progress})


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run(fakes: Fakes, **opts: Any) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    code = main.run(InstallOptions(**opts), steps=fakes.functions(),
                    out=Console(file=out, width=200), err=Console(file=err, width=200))
    return Outcome(code, out.getvalue(), err.getvalue())


ALL = ["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.21", "10.0.0.22", "10.0.0.31"]


# --- plan -----------------------------------------------------------------------------------


def test_plan_no_flag_runs_every_step_in_order() -> None:
    assert plan(InstallOptions()) == ("steps", ("genconf", "preflight", "deploy", "postflight"))
    assert plan(InstallOptions(postflight=True, preflight=True)) == (
        "steps", ("preflight", "postflight"))
    assert plan(InstallOptions(validate_config=True)) == ("validate", ())
    assert plan(InstallOptions(upgrade=True)) == ("upgrade", ())
    assert plan(InstallOptions(add_agent="10.0.0.40", public=True)) == ("add_agent", ())
    assert plan(InstallOptions(remove_agent="10.0.0.21")) == ("remove_agent", ())


@pytest.mark.parametrize("opts, text", [
    (InstallOptions(upgrade=True, add_agent="1.2.3.4"), "do not go together"),
    (InstallOptions(upgrade=True, deploy=True), "does not go with --deploy"),
    (InstallOptions(validate_config=True, genconf=True), "does not go with --genconf"),
    (InstallOptions(public=True), "--public goes with --add-agent"),
    (InstallOptions(add_agent="1.2.3.4", hosts=("1.2.3.4",)), "--hosts does not go"),
    (InstallOptions(deploy=True, source=Path("/src")), "--source is for the steps"),
    (InstallOptions(validate_config=True, source=Path("/src")), "--source is for the steps"),
    (InstallOptions(remove_agent="1.2.3.4", source=Path("/src")), "--source is for the steps"),
])
def test_plan_refuses_flags_that_do_not_combine(opts: InstallOptions, text: str) -> None:
    with pytest.raises(UsageProblem, match=text):
        plan(opts)


# --- the steps ------------------------------------------------------------------------------


def test_every_step_on_every_host(config: Path) -> None:
    fakes = Fakes()
    result = run(fakes, config=config)
    assert result.code == 0, result.err
    assert fakes.calls == [("genconf", []), ("preflight", ALL), ("deploy", ALL),
                           ("postflight", [])]
    assert "<table of 6>" in result.out
    assert "Deploy" in result.out and "public agent" in result.out
    assert result.err == ""


def test_config_problems_are_all_listed_and_no_step_runs(config: Path) -> None:
    config.write_text("cluster_name: test\nmaster_list: [10.0.0.11, 10.0.0.12]\n"
                      "agent_list: [bad]\nssh_port: 0\nssh_key_path: nope\n")
    fakes = Fakes()
    result = run(fakes, config=config)
    assert result.code == 1 and fakes.calls == []
    assert "is not valid (4 problems); no host was touched" in result.err
    for key in ("master_list:", "agent_list[0]:", "ssh_port:", "ssh_key_path:"):
        assert f"  {key}" in result.err


def test_validate_config_touches_nothing(config: Path) -> None:
    fakes = Fakes()
    result = run(fakes, config=config, validate_config=True)
    assert result.code == 0 and fakes.calls == []
    assert "valid. cluster test: 3 master(s), 2 agent(s), 1 public agent(s)" in result.out


def test_a_failed_preflight_stops_before_deploy(config: Path) -> None:
    fakes = Fakes()
    fakes.fail["preflight"] = {"10.0.0.21": "5050 (master) in use"}
    result = run(fakes, config=config)
    assert result.code == 1
    assert [c[0] for c in fakes.calls] == ["genconf", "preflight"]
    assert "10.0.0.21  preflight/ports  5050 (master) in use" in result.err
    assert "preflight failed" in result.err


def test_deploy_finishes_other_hosts_then_stops(config: Path) -> None:
    fakes = Fakes()
    fakes.fail["deploy"] = {"10.0.0.22": "unreachable: connection refused (port 22)"}
    result = run(fakes, config=config)
    assert result.code == 1
    assert fakes.calls[-1] == ("deploy", ALL)  # every host was deployed; no postflight
    assert "10.0.0.22  deploy  unreachable: connection refused (port 22)" in result.err
    assert "FAILED" in result.out


def test_failed_postflight_is_exit_1(config: Path) -> None:
    fakes = Fakes()
    fakes.fail["postflight"] = {"10.0.0.11": "no master leads after 180 s"}
    result = run(fakes, config=config)
    assert result.code == 1
    assert "10.0.0.11  postflight  no master leads after 180 s" in result.err


def test_a_single_step_reads_the_bundle_genconf_left(config: Path) -> None:
    fakes = Fakes()
    assert run(fakes, config=config, deploy=True).code == 0
    assert fakes.calls == [("read_manifest", []), ("deploy", ALL)]
    fakes = Fakes()
    fakes.bundle = False
    result = run(fakes, config=config, preflight=True)
    assert result.code == 1 and [c[0] for c in fakes.calls] == ["read_manifest"]
    assert "run `dcos-py install --genconf` first" in result.err


def test_genconf_failure_is_one_line(config: Path) -> None:
    fakes = Fakes()
    fakes.fail["genconf"] = {}
    result = run(fakes, config=config)
    assert result.code == 1 and fakes.calls == [("genconf", [])]
    assert result.err.strip() == "genconf failed: pip wheel failed: no network"


def test_hosts_limits_the_steps(config: Path) -> None:
    fakes = Fakes()
    result = run(fakes, config=config, preflight=True, deploy=True,
                 hosts=("10.0.0.31", "10.0.0.11"))
    assert result.code == 0
    assert fakes.calls[1:] == [("preflight", ["10.0.0.11", "10.0.0.31"]),
                               ("deploy", ["10.0.0.11", "10.0.0.31"])]
    fakes = Fakes()
    result = run(fakes, config=config, hosts=("10.0.0.99",))
    assert result.code == 1 and fakes.calls == []
    assert "--hosts: 10.0.0.99 is not in the cluster" in result.err


def test_genconf_dir_option(config: Path, tmp_path: Path) -> None:
    seen: list[Path] = []
    fakes = Fakes()
    steps = fakes.functions()

    def genconf(cfg: ClusterConfig, **kw: Any) -> Manifest:
        seen.append(cfg.genconf_dir)
        return Manifest()

    steps.overrides["genconf"] = genconf
    code = main.run(InstallOptions(config=config, genconf=True, genconf_dir=tmp_path / "g"),
                    steps=steps, out=Console(file=io.StringIO()),
                    err=Console(file=io.StringIO()))
    assert code == 0 and seen == [tmp_path / "g"]


# --- upgrade, add, remove, uninstall --------------------------------------------------------


def test_upgrade_builds_then_rolls(config: Path) -> None:
    fakes = Fakes()
    assert run(fakes, config=config, upgrade=True).code == 0
    assert fakes.calls == [("read_manifest", []), ("genconf", []), ("upgrade", ALL)]
    fakes.fail["upgrade"] = {"10.0.0.12": "master did not come back"}
    result = run(fakes, config=config, upgrade=True)
    assert result.code == 1
    assert "10.0.0.12  upgrade  master did not come back" in result.err


def test_upgrade_refuses_to_roll_an_older_version_out(config: Path) -> None:
    fakes = Fakes()
    fakes.versions = {"read_manifest": "0.1.0.post1", "genconf": "0.1.0"}
    result = run(fakes, config=config, upgrade=True)
    assert result.code == 1
    assert "older than the cluster's 0.1.0.post1" in result.err
    assert ("upgrade", ALL) not in fakes.calls
    fakes.versions = {"read_manifest": "0.1.0", "genconf": "0.1.0.post1"}
    assert run(fakes, config=config, upgrade=True).code == 0
    assert fakes.calls[-1] == ("upgrade", ALL)


def test_add_agent_is_remembered_only_when_it_worked(config: Path) -> None:
    fakes = Fakes()
    fakes.fail["add_agent"] = {"10.0.0.40": "preflight: 5051 (agent) in use"}
    result = run(fakes, config=config, add_agent="10.0.0.40", public=True)
    assert result.code == 1
    assert "10.0.0.40  add-agent  preflight: 5051 (agent) in use" in result.err
    assert not (config.parent / "genconf" / "inventory.json").exists()
    fakes = Fakes()
    result = run(fakes, config=config, add_agent="10.0.0.40", public=True)
    assert result.code == 0, result.err
    assert fakes.calls == [("add_agent", ["10.0.0.40", "public_agent"])]
    assert "joined the cluster as a public agent" in result.out
    # later runs see it: deploy goes to 7 hosts
    fakes = Fakes()
    assert run(fakes, config=config, deploy=True).code == 0
    assert fakes.calls[-1] == ("deploy", [*ALL, "10.0.0.40"])
    # adding it twice is refused before any host is touched
    fakes = Fakes()
    result = run(fakes, config=config, add_agent="10.0.0.40")
    assert result.code == 1 and fakes.calls == []
    assert "already in the cluster" in result.err


def test_remove_agent(config: Path) -> None:
    fakes = Fakes()
    result = run(fakes, config=config, remove_agent="10.0.0.11")
    assert result.code == 1 and fakes.calls == [] and "is a master" in result.err
    result = run(fakes, config=config, remove_agent="10.0.0.21")
    assert result.code == 0, result.err
    assert fakes.calls == [("remove_agent", ["10.0.0.21"])]
    cfg = inventory.effective(main.load(config))
    assert cfg.agents == ("10.0.0.22",)
    result = run(fakes, config=config, remove_agent="10.0.0.21")
    assert result.code == 1 and "not a host of the cluster" in result.err


def test_uninstall_asks_first(config: Path) -> None:
    fakes = Fakes()
    questions: list[str] = []

    def no(question: str) -> bool:
        questions.append(question)
        return False

    err = io.StringIO()
    code = main.run_uninstall(InstallOptions(config=config, hosts=("10.0.0.21",)), confirm=no,
                              steps=fakes.functions(), out=Console(file=io.StringIO()),
                              err=Console(file=err))
    assert code == 1 and fakes.calls == [] and "nothing uninstalled" in err.getvalue()
    assert "from 1 host(s) (10.0.0.21)" in questions[0]
    code = main.run_uninstall(InstallOptions(config=config, yes=True), confirm=no,
                              steps=fakes.functions(), out=Console(file=io.StringIO()),
                              err=Console(file=io.StringIO()))
    assert code == 0 and fakes.calls == [("uninstall", ALL)] and len(questions) == 1


# --- the commands ---------------------------------------------------------------------------


def test_install_command_validate_config(config: Path) -> None:
    from dcos.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["install", "--validate-config", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    config.write_text("cluster_name: [x]\n")
    result = runner.invoke(app, ["install", "--validate-config", "-c", str(config)])
    assert result.exit_code == 1
    assert "cluster_name: must be a non-empty string" in result.output


def test_hash_password_command() -> None:
    from dcos.cli.main import app
    from dcos.security.passwords import verify_password

    runner = CliRunner()
    result = runner.invoke(app, ["install", "--hash-password", "s3cret"])
    assert result.exit_code == 0, result.output
    assert verify_password("s3cret", result.output.strip())
    result = runner.invoke(app, ["install", "--hash-password"], input="from-stdin\n")
    assert result.exit_code == 0, result.output
    assert verify_password("from-stdin", result.output.strip())
    result = runner.invoke(app, ["install", "--hash-password", "--deploy"])
    assert result.exit_code == 1 and "goes alone" in result.output
    result = runner.invoke(app, ["install", "stray"])
    assert result.exit_code == 1 and "goes with --hash-password" in result.output


def test_uninstall_command_needs_yes_without_a_terminal(config: Path) -> None:
    from dcos.cli.main import app

    result = CliRunner().invoke(app, ["uninstall", "-c", str(config)])
    assert result.exit_code == 1
    assert "pass --yes" in result.output


def test_a_step_that_raises_is_named_in_one_line(config: Path) -> None:
    fakes = Fakes()
    steps = fakes.functions()

    async def postflight(*args: Any, **kw: Any) -> list[HostResult]:
        raise BundleError("no installer certificate: run `dcos-py install --genconf` first")

    steps.overrides["postflight"] = postflight
    err = io.StringIO()
    code = main.run(InstallOptions(config=config, postflight=True), steps=steps,
                    out=Console(file=io.StringIO()), err=Console(file=err, width=200))
    assert code == 1
    assert err.getvalue().strip() == ("postflight failed: no installer certificate: run "
                                      "`dcos-py install --genconf` first")
