"""Writes small source package repositories for the packaging unit tests (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = """{
  "id": "/{{service.name}}",
  "cmd": "{{{service.cmd}}}",
  "instances": {{service.instances}},
  "cpus": {{service.cpus}},
  "mem": 32,
  "env": {"GREETING": "{{service.greeting}}", "VERBOSE": "{{service.verbose}}"},
  "labels": {"HAPROXY_GROUP": "external"}
}
"""

CONFIG: dict[str, Any] = {
    "type": "object",
    "properties": {
        "service": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "hello"},
                "cmd": {"type": "string", "default": "echo hi && sleep 100"},
                "instances": {"type": "integer", "minimum": 0, "default": 1},
                "cpus": {"type": "number", "minimum": 0.01, "default": 0.1},
                "greeting": {"type": "string", "default": "hello \"world\""},
                "verbose": {"type": "boolean", "default": False},
            },
            "required": ["name"],
        }
    },
}


def package_json(name: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "packagingVersion": "4.0", "name": name, "version": version,
        "maintainer": "team@example.com", "description": f"the {name} package",
        "tags": ["demo"], "upgradesFrom": [], "downgradesTo": [],
        "minDcosReleaseVersion": "1.10",
    }
    doc.update(extra)
    return doc


def write_release(
    root: Path, name: str, release: int, *, package: dict[str, Any] | None = None,
    config: dict[str, Any] | None | str = None, template: str | None = TEMPLATE,
    resource: dict[str, Any] | None = None, raw_package: str | None = None,
) -> Path:
    """packages/<name>/<release>/ with the given files (config "none": no config.json)."""
    folder = root / "packages" / name / str(release)
    folder.mkdir(parents=True, exist_ok=True)
    if raw_package is not None:
        (folder / "package.json").write_text(raw_package)
    else:
        (folder / "package.json").write_text(json.dumps(package or package_json(name)))
    if config != "none":
        (folder / "config.json").write_text(json.dumps(config if config is not None else CONFIG))
    if template is not None:
        (folder / "marathon.json.mustache").write_text(template)
    if resource is not None:
        (folder / "resource.json").write_text(json.dumps(resource))
    return folder


def write_project(root: Path, name: str = "tinyproj", body: str = "VALUE = 1\n") -> Path:
    """src/<name>/: a setuptools project with one module, buildable offline."""
    project = root / "src" / name
    (project / name).mkdir(parents=True, exist_ok=True)
    (project / name / "__init__.py").write_text(body)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'\n[project]\nname = "{name}"\nversion = "0.1.0"\n'
        f'\n[tool.setuptools]\npackages = ["{name}"]\n')
    return project


def write_wheel_set(root: Path, name: str, lines: list[str]) -> Path:
    path = root / "wheels" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def png_bytes(width: int, height: int) -> bytes:
    """A real (tiny, one-colour) PNG of `width` x `height` pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\x2a\x5b\xd7" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SVG_ICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" '
            'viewBox="0 0 256 256"><rect width="256" height="256" rx="48" fill="#2a5bd7"/></svg>')


def write_package_image(root: Path, name: str, file: str = "icon.svg",
                        content: str | bytes = SVG_ICON) -> Path:
    """packages/<name>/images/<file> (the package's own images, shared by its releases)."""
    path = root / "packages" / name / "images" / file
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path
