"""Every package of the built catalog (packages-repo/build/index.json, newest release of each)
installs with its defaults on the shared cluster, becomes healthy, and uninstalls leaving no
app, task, framework or process behind.

Packages that need others running first get them from `PREREQUISITES` (installed with their
defaults before, uninstalled after, in reverse order). The list of packages is read from the
index when the tests are collected, so the test covers whatever the catalog holds.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from dcos.packaging import mediatypes as mt
from tests.packages.conftest import INDEX, PkgCluster, http

pytestmark = pytest.mark.integration

# package -> packages it needs installed first (in install order)
PREREQUISITES: dict[str, list[str]] = {
    "tweeter": ["redis"],
    "tweeter-analytics": ["redis", "tweeter"],
}
HEALTHY_TIMEOUT_S = 300.0


def catalog_names() -> list[str]:
    """The package names of the built index (each once, sorted); [] when it is not built."""
    if not INDEX.exists():
        return []
    return sorted({p["name"] for p in orjson.loads(INDEX.read_bytes())["packages"]})


def rendered_ids(c: PkgCluster, name: str) -> tuple[str, list[str]]:
    """The app (or group) id of `name` installed with its defaults, and the framework names
    its apps declare (DCOS_PACKAGE_FRAMEWORK_NAME)."""
    doc = c.rpc("/package/render", {"packageName": name})["marathonJson"]
    return doc["id"], sorted({fw for app in _apps(doc)
                              if (fw := (app.get("labels") or {}).get(
                                  "DCOS_PACKAGE_FRAMEWORK_NAME"))})


def _apps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if "apps" not in doc and "groups" not in doc:
        return [doc]
    out = list(doc.get("apps") or [])
    for sub in doc.get("groups") or []:
        out += _apps(sub)
    return out


def install_healthy(c: PkgCluster, name: str) -> tuple[str, list[str], float]:
    app_id, frameworks = rendered_ids(c, name)
    started = time.monotonic()
    out = c.install(name)
    assert out["appId"] == app_id and out["packageName"] == name
    c.wait_healthy(app_id, timeout=HEALTHY_TIMEOUT_S)
    return app_id, frameworks, time.monotonic() - started


def uninstall_clean(c: PkgCluster, name: str, app_id: str, frameworks: list[str]) -> None:
    result = c.uninstall(name, app_id=app_id)
    assert [r["appId"] for r in result["results"]] == [app_id]
    c.assert_clean(app_id)
    for fw in frameworks:
        c.assert_clean(app_id, framework_name=fw)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", catalog_names() or ["<index not built>"])
def test_package_installs_with_defaults_healthy_and_uninstalls_clean(
        pkg_cluster: PkgCluster, name: str) -> None:
    c = pkg_cluster
    installed: list[tuple[str, str, list[str]]] = []
    try:
        for pre in PREREQUISITES.get(name, []):
            app_id, frameworks, _ = install_healthy(c, pre)
            installed.append((pre, app_id, frameworks))
        app_id, frameworks, took = install_healthy(c, name)
        installed.append((name, app_id, frameworks))
        print(f"{name}: install-to-healthy {took:.2f} s")
        listed = c.rpc("/package/list", {"packageName": name})["packages"]
        assert [p["appId"] for p in listed] == [app_id]
    finally:
        while installed:
            pkg, app_id, frameworks = installed.pop()
            uninstall_clean(c, pkg, app_id, frameworks)


def test_search_and_describe_give_icon_urls_that_load(pkg_cluster: PkgCluster) -> None:
    """Every package's icons in search (and hello-world's in describe), asked through the
    gateway as the web UI asks, are gateway URLs answering 200 with an SVG image; asked of the
    package service directly, they are its own URLs."""
    c = pkg_cluster

    def through_gateway(path: str, body: Any) -> Any:
        ep = mt.ENDPOINTS[path]
        status, _, raw = http("POST", c.gateway_url + path, body,
                              {"Content-Type": ep.request or "", "Accept": ep.responses[0]})
        assert status == 200, raw[:300]
        return orjson.loads(raw)

    def assert_loads(url: str) -> None:
        status, headers, raw = http("GET", url)
        assert status == 200, (url, raw[:300])
        assert headers["Content-Type"].startswith("image/svg+xml"), (url, headers)
        assert raw.lstrip().startswith(b"<svg"), url

    packages = through_gateway("/package/search", {})["packages"]
    assert {p["name"] for p in packages} == set(catalog_names())
    for p in packages:
        images = p["images"]
        assert {"icon-small", "icon-medium", "icon-large"} <= set(images), p["name"]
        assert images["icon-small"].startswith(f"{c.gateway_url}/package/resource/icon.svg?url=")
        assert_loads(images["icon-small"])
    described = through_gateway("/package/describe", {"packageName": "hello-world"})
    icon = described["package"]["resource"]["images"]["icon-medium"]
    assert icon.startswith(f"{c.gateway_url}/package/resource/")
    assert_loads(icon)
    direct = c.rpc("/package/search", {"query": "hello-world"})["packages"][0]["images"]
    assert direct["icon-large"].startswith(f"{c.package_url}/package/resource/")
    assert_loads(direct["icon-large"])
