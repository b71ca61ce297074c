"""`dcos-py package ...` against a fake package service that checks the Cosmos media types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pkg_fakes import APP, HELLO, FakePackageService, fake_cosmos
from typer.testing import CliRunner

from dcos.cli.commands import package
from dcos.cli.commands._cosmos import error_message
from dcos.cli.main import app
from dcos.packaging import mediatypes as mt
from dcos.testing.processes import free_port

__all__ = ["fake_cosmos"]

runner = CliRunner()


def run(fake: FakePackageService, *args: str, input: str | None = None) -> Any:
    env = {"DCOS_PACKAGE_SERVICE": fake.url, "DCOS_WEBAPP": fake.url}
    return runner.invoke(app, ["package", *args], env=env, input=input)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_search_sends_the_cosmos_types_and_prints_a_table(fake_cosmos) -> None:
    fake_cosmos.answers["/package/search"] = {"packages": [
        {"name": "hello-world", "currentVersion": "1.0.0", "versions": {"1.0.0": "0"},
         "description": "An HTTP hello world", "framework": False, "selected": True,
         "tags": ["demo"], "images": {}}]}
    result = run(fake_cosmos, "search", "hello")
    assert result.exit_code == 0, result.output
    assert "hello-world" in result.output and "1.0.0" in result.output
    path, headers, body = fake_cosmos.requests[0]
    assert path == "/package/search" and body == {"query": "hello"}
    assert headers["Content-Type"] == \
        "application/vnd.dcos.package.search-request+json;charset=utf-8;version=v1"
    assert headers["Accept"] == \
        "application/vnd.dcos.package.search-response+json;charset=utf-8;version=v1"
    as_json = run(fake_cosmos, "search", "--json")
    assert json.loads(as_json.output)["packages"][0]["name"] == "hello-world"


def test_search_without_results_fails(fake_cosmos) -> None:
    fake_cosmos.answers["/package/search"] = {"packages": []}
    result = run(fake_cosmos, "search", "nothing")
    assert result.exit_code == 1
    assert "no packages found for 'nothing'" in result.output


def test_describe_variants(fake_cosmos, tmp_path: Path) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/render"] = lambda body: {"marathonJson": {
        **APP, "instances": body["options"]["service"]["instances"]}}
    fake_cosmos.answers["/package/list-versions"] = {"results": {"1.0.0": "0", "1.1.0": "1"}}
    described = run(fake_cosmos, "describe", "hello-world")
    assert described.exit_code == 0, described.output
    assert json.loads(described.output)["name"] == "hello-world"
    headers = fake_cosmos.requests[-1][1]
    assert headers["Accept"] == mt.DESCRIBE_RESPONSE_V3 == \
        "application/vnd.dcos.package.describe-response+json;charset=utf-8;version=v3"
    config = run(fake_cosmos, "describe", "hello-world", "--config")
    assert json.loads(config.output) == HELLO["config"]
    opts = tmp_path / "o.json"
    opts.write_text('{"service": {"instances": 3}}')
    rendered = run(fake_cosmos, "describe", "hello-world", "--render", "--options", str(opts))
    assert json.loads(rendered.output)["instances"] == 3
    assert fake_cosmos.body_of("/package/render")["options"] == {"service": {"instances": 3}}
    versions = run(fake_cosmos, "describe", "hello-world", "--package-versions")
    assert json.loads(versions.output) == ["1.1.0", "1.0.0"]
    both = run(fake_cosmos, "describe", "hello-world", "--package-versions", "--config")
    assert both.exit_code == 1 and "no other option" in both.output


def test_unknown_package_is_one_line_and_exit_1(fake_cosmos) -> None:
    fake_cosmos.answers["/package/describe"] = (
        400, {"type": "PackageNotFound", "message": "Package [nope] not found", "data": {}})
    result = run(fake_cosmos, "describe", "nope")
    assert result.exit_code == 1
    assert lines(result.output) == ["dcos-py: Package [nope] not found"]


def healthy_after(polls: int) -> Any:
    seen = {"n": 0}

    def on_get(app: dict[str, Any]) -> None:
        seen["n"] += 1
        if seen["n"] >= polls:
            app["tasksRunning"] = app["tasksHealthy"] = app["instances"]
            app["deployments"] = []
    return on_get


def test_install_shows_notes_waits_until_healthy(fake_cosmos) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/install"] = {
        "packageName": "hello-world", "packageVersion": "1.0.0", "appId": "/hello-world",
        "postInstallNotes": HELLO["postInstallNotes"]}
    fake_cosmos.apps["/hello-world"] = {**APP, "tasksRunning": 0, "tasksHealthy": 0,
                                        "deployments": [{"id": "d1"}]}
    fake_cosmos.on_get = healthy_after(3)
    result = run(fake_cosmos, "install", "hello-world", "--yes", "--timeout", "20")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("This runs a small web server.") < out.index("Installing package")
    assert "/hello-world is running: /hello-world 2/2 healthy" in out
    assert out.rstrip().endswith("Try curl http://hello-world.webapp.dcos")
    assert fake_cosmos.paths()[:2] == ["/package/describe", "/package/install"]
    path, headers, body = next(r for r in fake_cosmos.requests if r[0] == "/package/install")
    assert headers["Content-Type"] == \
        "application/vnd.dcos.package.install-request+json;charset=utf-8;version=v1"
    assert headers["Accept"] == \
        "application/vnd.dcos.package.install-response+json;charset=utf-8;version=v2"
    assert body == {"packageName": "hello-world", "packageVersion": "1.0.0"}


def test_install_of_a_group_waits_for_every_app(fake_cosmos, tmp_path: Path) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/install"] = {
        "packageName": "dask", "packageVersion": "1.0.0", "appId": "/dask"}
    worker = {"id": "/dask/workers/w", "instances": 2, "tasksRunning": 0, "deployments": []}
    scheduler = {"id": "/dask/scheduler", "instances": 1, "tasksRunning": 0,
                 "tasksHealthy": 0, "healthChecks": [{}], "deployments": []}
    fake_cosmos.groups["/dask"] = {"id": "/dask", "apps": [scheduler],
                                   "groups": [{"id": "/dask/workers", "apps": [worker]}]}
    fake_cosmos.on_get = healthy_after(4)
    opts = tmp_path / "o.json"
    opts.write_text('{"workers": {"count": 2}}')
    result = run(fake_cosmos, "install", "dask", "--yes", "--app-id", "/dask",
                 "--options", str(opts), "--timeout", "20")
    assert result.exit_code == 0, result.output
    assert "/dask/scheduler 1/1 healthy, /dask/workers/w 2/2 running" in result.output
    assert fake_cosmos.body_of("/package/install") == {
        "packageName": "dask", "packageVersion": "1.0.0", "appId": "/dask",
        "options": {"workers": {"count": 2}}}


def test_install_times_out_with_how_far_it_got(fake_cosmos) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/install"] = {"packageName": "hello-world",
                                               "packageVersion": "1.0.0", "appId": "/h"}
    fake_cosmos.apps["/h"] = {**APP, "id": "/h", "tasksRunning": 2, "tasksHealthy": 1}
    result = run(fake_cosmos, "install", "hello-world", "--yes", "--timeout", "0.3")
    assert result.exit_code == 5
    assert "/h is not running and healthy after 0.3 s (/h 1/2 healthy)" in result.output


def test_install_without_a_terminal_needs_yes(fake_cosmos) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    result = run(fake_cosmos, "install", "hello-world")
    assert result.exit_code == 1
    assert "pass --yes" in result.output
    assert "/package/install" not in fake_cosmos.paths()


def test_install_asks_on_a_terminal(fake_cosmos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(package, "has_terminal", lambda: True)
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/install"] = {"packageName": "hello-world",
                                               "packageVersion": "1.0.0", "appId": "/h"}
    declined = run(fake_cosmos, "install", "hello-world", input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "Continue installing?" in declined.output and "Exiting installation." in declined.output
    assert "/package/install" not in fake_cosmos.paths()
    accepted = run(fake_cosmos, "install", "hello-world", "--no-wait", "--json", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert json.loads(accepted.output[accepted.output.index("{"):])["appId"] == "/h"
    assert "/v2/apps/h" not in fake_cosmos.paths()  # --no-wait: no polling


def test_bad_options_name_every_failing_path(fake_cosmos, tmp_path: Path) -> None:
    fake_cosmos.answers["/package/describe"] = {"package": HELLO}
    fake_cosmos.answers["/package/install"] = (400, {
        "type": "JsonSchemaMismatch", "message": "Options JSON failed validation",
        "data": {"errors": [
            {"instance": {"pointer": "/service/instances"}, "message": "0 is less than 1"},
            {"instance": {"pointer": "/service/name"}, "found": "integer",
             "expected": ["string"]}]}})
    opts = tmp_path / "o.json"
    opts.write_text('{"service": {"instances": 0, "name": 5}}')
    result = run(fake_cosmos, "install", "hello-world", "--yes", "--options", str(opts))
    assert result.exit_code == 1
    assert lines(result.output)[-1] == (
        "dcos-py: Options JSON failed validation: /service/instances: 0 is less than 1; "
        "/service/name: found integer, expected string")


def test_options_file_must_be_a_json_object(fake_cosmos, tmp_path: Path) -> None:
    opts = tmp_path / "o.json"
    opts.write_text("[1]")
    result = run(fake_cosmos, "install", "hello-world", "--yes", "--options", str(opts))
    assert result.exit_code == 1 and "must be a JSON object" in result.output
    assert fake_cosmos.requests == []


def test_dry_run_prints_the_app_and_why_it_does_not_fit(fake_cosmos) -> None:
    fake_cosmos.answers["/package/render"] = {"marathonJson": APP}
    fake_cosmos.fit = {"fits": False, "agents": 3, "apps": [{
        "id": "/hello-world", "instances": 2, "placeable": 1,
        "reasons": [{"reason": "insufficient cpus: needs 0.1, best agent has 0.05",
                     "code": "InsufficientCpus", "agents": 2},
                    {"reason": "constraint hostname:UNIQUE"}]}]}
    result = run(fake_cosmos, "install", "hello-world", "--dry-run")
    assert result.exit_code == 1
    assert '"id": "/hello-world"' in result.output
    assert "fits now: no (on 3 agent(s))" in result.output
    assert "/hello-world: 1 of 2 instance(s) placeable now" in result.output
    assert "- insufficient cpus: needs 0.1, best agent has 0.05 (InsufficientCpus, 2 agent(s))" \
        in result.output
    assert "- constraint hostname:UNIQUE" in result.output
    assert fake_cosmos.body_of("/v2/fit") == APP
    assert "/package/install" not in fake_cosmos.paths()


def test_dry_run_that_fits_and_an_older_webapp(fake_cosmos) -> None:
    fake_cosmos.answers["/package/render"] = {"marathonJson": APP}
    fake_cosmos.fit = {"fits": True, "apps": [{"id": "/hello-world", "instances": 2,
                                               "placeable": 2, "reasons": []}]}
    fits = run(fake_cosmos, "install", "hello-world", "--dry-run")
    assert fits.exit_code == 0 and "fits now: yes" in fits.output
    fake_cosmos.fit = None
    older = run(fake_cosmos, "install", "hello-world", "--dry-run")
    assert older.exit_code == 0, older.output
    assert "has no /v2/fit (an older webapp)" in older.output


def test_uninstall_prints_results_and_notes(fake_cosmos) -> None:
    fake_cosmos.answers["/package/uninstall"] = {"results": [{
        "packageName": "hello-world", "appId": "/hello-world", "packageVersion": "1.0.0",
        "postUninstallNotes": "hello-world is gone."}]}
    result = run(fake_cosmos, "uninstall", "hello-world", "--app-id", "/hello-world")
    assert result.exit_code == 0, result.output
    assert lines(result.output) == [
        "Uninstalled package [hello-world] version [1.0.0] app [/hello-world]",
        "hello-world is gone."]
    assert fake_cosmos.body_of("/package/uninstall") == {"packageName": "hello-world",
                                                         "appId": "/hello-world"}


def test_uninstall_ambiguous_says_what_to_do(fake_cosmos) -> None:
    fake_cosmos.answers["/package/uninstall"] = (400, {
        "type": "AmbiguousAppId", "message": "Multiple apps named [hello-world] are installed: "
        "[/a, /b]", "data": {}})
    result = run(fake_cosmos, "uninstall", "hello-world")
    assert result.exit_code == 1
    assert "use --app-id to pick one, or --all" in result.output
    everything = run(fake_cosmos, "uninstall", "hello-world", "--all")
    assert everything.exit_code == 1
    assert fake_cosmos.requests[-1][2] == {"packageName": "hello-world", "all": True}


def test_list_groups_apps_by_package(fake_cosmos) -> None:
    definition = {"name": "hello-world", "version": "1.0.0", "description": "hi"}
    fake_cosmos.answers["/package/list"] = {"packages": [
        {"appId": "/a", "packageInformation": {"packageDefinition": definition}},
        {"appId": "/b", "packageInformation": {"packageDefinition": definition}}]}
    as_json = run(fake_cosmos, "list", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == [{**definition, "apps": ["/a", "/b"]}]
    table = run(fake_cosmos, "list")
    assert "hello-world" in table.output and "/a,/b" in table.output
    fake_cosmos.answers["/package/list"] = {"packages": []}
    assert json.loads(run(fake_cosmos, "list", "--json").output) == []
    assert run(fake_cosmos, "list").exit_code == 1


def test_repositories(fake_cosmos) -> None:
    repos = [{"name": "Universe", "uri": "file:///u/index.json"}]

    def add(body: dict[str, Any]) -> Any:
        repos.insert(body.get("index", len(repos)), {"name": body["name"], "uri": body["uri"]})
        return {"repositories": repos}

    def delete(body: dict[str, Any]) -> Any:
        repos[:] = [r for r in repos if r["name"] != body["name"]]
        return {"repositories": repos}

    fake_cosmos.answers["/package/repository/add"] = add
    fake_cosmos.answers["/package/repository/delete"] = delete
    fake_cosmos.answers["/package/repository/list"] = lambda _: {"repositories": repos}
    added = run(fake_cosmos, "repo", "add", "dev", "http://r/index.json", "--index", "0")
    assert added.exit_code == 0, added.output
    listed = run(fake_cosmos, "repo", "list", "--json")
    assert [r["name"] for r in json.loads(listed.output)["repositories"]] == ["dev", "Universe"]
    table = lines(run(fake_cosmos, "repo", "list").output)
    assert table[1].split() == ["0", "dev", "http://r/index.json"]
    removed = run(fake_cosmos, "repo", "remove", "dev")
    assert removed.exit_code == 0 and "dev" not in removed.output
    fake_cosmos.answers["/package/repository/add"] = (400, {
        "type": "IndexNotFound", "message": "the index at http://x could not be read"})
    bad = run(fake_cosmos, "repo", "add", "x", "http://x")
    assert bad.exit_code == 1 and "could not be read" in bad.output


def test_repo_add_sends_a_bearer_token_only_when_given(fake_cosmos, monkeypatch) -> None:
    sent: list[dict[str, Any]] = []

    def add(body: dict[str, Any]) -> Any:
        sent.append(body)
        return {"repositories": [{"name": body["name"], "uri": body["uri"]}]}

    fake_cosmos.answers["/package/repository/add"] = add
    assert run(fake_cosmos, "repo", "add", "priv", "https://r/index.json",
               "--token", "s3cret").exit_code == 0
    monkeypatch.setenv("DCOS_PACKAGE_REPO_TOKEN", "from-env")
    assert run(fake_cosmos, "repo", "add", "env", "https://e/index.json").exit_code == 0
    monkeypatch.delenv("DCOS_PACKAGE_REPO_TOKEN")
    assert run(fake_cosmos, "repo", "add", "open", "https://o/index.json").exit_code == 0
    assert [b.get("token") for b in sent] == ["s3cret", "from-env", None]
    assert "token" not in sent[2]


def test_update_calls_the_service_update_and_waits(fake_cosmos, tmp_path: Path) -> None:
    fake_cosmos.answers["/cosmos/service/update"] = {
        "package": {**HELLO, "version": "1.1.0"}, "resolvedOptions": {},
        "marathonDeploymentId": "d2"}
    fake_cosmos.apps["/hello-world"] = {**APP, "tasksRunning": 2, "tasksHealthy": 2,
                                        "deployments": [{"id": "d2"}]}
    fake_cosmos.on_get = healthy_after(2)
    opts = tmp_path / "o.json"
    opts.write_text('{"service": {"instances": 3}}')
    result = run(fake_cosmos, "update", "/hello-world", "--package-version", "1.1.0",
                 "--options", str(opts), "--timeout", "20")
    assert result.exit_code == 0, result.output
    assert "Updated /hello-world to package [hello-world] version [1.1.0]" in result.output
    path, headers, body = fake_cosmos.requests[0]
    assert headers["Content-Type"] == \
        "application/vnd.dcos.service.update-request+json;charset=utf-8;version=v1"
    assert body == {"appId": "/hello-world", "packageVersion": "1.1.0",
                    "options": {"service": {"instances": 3}}, "replace": False}


def test_wrong_answer_type_is_refused(fake_cosmos) -> None:
    fake_cosmos.answers["/package/search"] = {"packages": []}
    fake_cosmos.answer_types["/package/search"] = mt.LIST_RESPONSE
    result = run(fake_cosmos, "search")
    assert result.exit_code == 1
    assert "expected application/vnd.dcos.package.search-response" in result.output


def test_unreachable_service_is_exit_3() -> None:
    env = {"DCOS_PACKAGE_SERVICE": f"http://127.0.0.1:{free_port()}"}
    result = runner.invoke(app, ["package", "search"], env=env)
    assert result.exit_code == 3
    assert "cannot reach the package service" in result.output


@pytest.mark.parametrize(("body", "expected"), [
    ({"type": "PackageAlreadyInstalled", "message": "Package is already installed"},
     "Package is already installed under that app id (dcos-py package list shows it; install "
     "another instance under another id: --app-id, or the package's name option)"),
    ({"type": "PackageNotFound", "message": "Package [x] not found"}, "Package [x] not found"),
    ({"type": "MarathonBadResponse", "message": "Marathon said no",
      "data": {"errors": [{"path": "/cpus", "errors": ["must be positive"]}]}},
     "Marathon said no: must be positive"),
    ({"type": "X", "message": "two\nlines"}, "two lines"),
    ("not an object", "the package service answered 500"),
])
def test_error_message_is_one_line(body: Any, expected: str) -> None:
    assert error_message(body, 500)[1] == expected
