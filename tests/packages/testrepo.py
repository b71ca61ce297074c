"""A small Universe v4 repository written straight from `PackageRelease`s, for the package
service's own tests (independent of the catalog in packages-repo/):

- `pyhttp` 1.0.0 (release 0) and 2.0.0 (release 1, upgradesFrom ["1.0.0"], downgradesTo ["*"]):
  `python -m http.server` on port 0 with a MESOS_HTTP health check; options `instances`
  (1..5), `message`, `cpus`; asset `payload` (a file next to the index, relative URI);
- `pygroup` 1.0.0: a group template of two such apps;
- `nooptions` 0.1: an app without a config schema;
- `brokenrender` 0.1: a template that renders to something that is not JSON.

Called by: tests/unit/packaging/test_service*.py and tests/packages/test_service*.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from dcos.packaging.model import PackageRelease

HTTP_CMD = ('cd $MESOS_SANDBOX && echo {{{message}}} > index.html && '
            'exec \\"$DCOS_PYTHON\\" -m http.server $PORT0 --bind 127.0.0.1')
APP_TEMPLATE = """{
  "id": "{{service.name}}",
  "instances": {{service.instances}},
  "cpus": {{service.cpus}}, "mem": 64,
  "cmd": "%s",
  "fetch": [{"uri": "{{resource.assets.uris.payload}}"}],
  "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
  "env": {"VERSION": "%s"},
  "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0,
                    "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 2,
                    "delaySeconds": 0, "maxConsecutiveFailures": 3}]
}"""
GROUP_TEMPLATE = """{
  "id": "/{{service.name}}",
  "apps": [
    {"id": "/{{service.name}}/one", "instances": 1, "cpus": 0.1, "mem": 32,
     "cmd": "exec sleep 1000"},
    {"id": "/{{service.name}}/two", "instances": 1, "cpus": 0.1, "mem": 32,
     "cmd": "exec sleep 1000"}
  ]
}"""


def pyhttp_config(name: str = "pyhttp") -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "service": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": name},
                    "instances": {"type": "integer", "default": 1, "minimum": 1, "maximum": 5},
                    "cpus": {"type": "number", "default": 0.1, "minimum": 0.01},
                },
                "additionalProperties": False,
            },
            "message": {"type": "string", "default": "hello"},
        },
        "additionalProperties": False,
    }


def releases() -> list[PackageRelease]:
    """The test repository's releases."""
    resource = {"assets": {"uris": {"payload": "assets/payload.txt"}},
                "images": {"icon-small": "assets/icon.png"}}
    common: dict[str, Any] = {"maintainer": "tests@example.com", "tags": ["web", "test"],
                              "config": pyhttp_config(), "resource": resource}
    return [
        PackageRelease(name="pyhttp", version="1.0.0", release_version=0,
                       description="A tiny Python HTTP server", post_install_notes="pyhttp up",
                       post_uninstall_notes="pyhttp gone",
                       marathon_template=APP_TEMPLATE % (HTTP_CMD, "1"), **common),
        PackageRelease(name="pyhttp", version="2.0.0", release_version=1,
                       description="A tiny Python HTTP server", upgrades_from=("1.0.0",),
                       downgrades_to=("*",), post_install_notes="pyhttp up",
                       marathon_template=APP_TEMPLATE % (HTTP_CMD, "2"), **common),
        PackageRelease(name="pygroup", version="1.0.0", release_version=0,
                       description="Two sleepers in a group", tags=("group",),
                       config=pyhttp_config("pygroup"), marathon_template=GROUP_TEMPLATE),
        PackageRelease(name="nooptions", version="0.1", release_version=0,
                       description="No options at all",
                       marathon_template='{"id": "/nooptions", "cmd": "sleep 100", '
                                         '"cpus": 0.1, "mem": 32}'),
        PackageRelease(name="brokenrender", version="0.1", release_version=0,
                       description="Renders to garbage", marathon_template='{"id": {{{x}}'),
    ]


def write_repo(folder: Path) -> Path:
    """Write the index (and its assets) into `folder`; the index path."""
    (folder / "assets").mkdir(parents=True, exist_ok=True)
    (folder / "assets" / "payload.txt").write_text("payload\n")
    (folder / "assets" / "icon.png").write_bytes(b"\x89PNG fake")
    (folder / "secret.txt").write_text("not an asset\n")
    index = folder / "index.json"
    index.write_bytes(orjson.dumps({"packages": [r.to_index_entry() for r in releases()]}))
    return index
