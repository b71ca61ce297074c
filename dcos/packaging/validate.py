"""Validation of a source package repository (`packages-repo/`): every release folder is read,
checked and turned into a `PackageRelease`; every fault of every package is collected, each
with its file and reason, so one run reports them all.

Checks: package.json against the Universe v4 rules (`dcos.packaging.schema`) and its name
against the folder; release folders named 0, 1, 2 ... without gaps; versions unique within a
package; upgradesFrom / downgradesTo naming versions of the package or "*"; config.json a JSON
Schema of an object whose defaults satisfy it; resource.json against the rules, asset names
`[a-z0-9_]+` (usable as `{{resource.assets.uris.<name>}}`), relative asset paths that a wheel set
produces or that exist under `assets/`, images (`images/<file>` of the package's own images
folder, or `assets/<file>`) that are sound SVG or PNG files (`dcos.packaging.images`);
marathon.json.mustache rendering with the defaults to
a well-shaped app or group (`dcos.packaging.shape`), which for a framework package names its
framework in the DCOS_PACKAGE_FRAMEWORK_NAME label; wheel sets well formed.

Called by: `dcos.packaging.build.build_repository` (before anything is written).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from dcos.packaging.assets import ASSETS_DIR, WheelSet, read_wheel_sets
from dcos.packaging.images import (
    IMAGE_SUFFIXES,
    PACKAGE_IMAGES_DIR,
    image_problems,
    index_image_path,
    is_package_image,
    package_image_problem,
)
from dcos.packaging.model import ANY_VERSION, ModelError, PackageRelease, from_package_json
from dcos.packaging.render import (
    RenderError,
    check_schema,
    merge_defaults,
    render_template,
    validate_options,
)
from dcos.packaging.schema import package_json_problems, resource_problems
from dcos.packaging.shape import definition_problems, framework_problems

PACKAGES_DIR = "packages"
PACKAGE_JSON = "package.json"
CONFIG_JSON = "config.json"
RESOURCE_JSON = "resource.json"
TEMPLATE = "marathon.json.mustache"
RELEASE_FILES = frozenset({PACKAGE_JSON, CONFIG_JSON, RESOURCE_JSON, TEMPLATE})
RELEASE_NAME = re.compile(r"^(0|[1-9][0-9]*)$")
ASSET_NAME = re.compile(r"^[a-z0-9_]+$")
Report = Callable[[str], None]


@dataclass(frozen=True, order=True)
class Problem:
    """One fault: the file (or folder) it is in, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class RepositoryInvalid(Exception):
    """A source repository with faults; `problems` lists every one (file and reason)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the package repository:\n{lines}")


@dataclass(frozen=True)
class SourceRepository:
    """A valid source repository: its releases (sorted by name, release) and wheel sets."""

    root: Path
    releases: tuple[PackageRelease, ...]
    wheel_sets: dict[str, WheelSet] = field(default_factory=dict)


def validate_repository(src: Path) -> SourceRepository:
    """The repository at `src` when it has no fault; `RepositoryInvalid` listing them all."""
    repo, problems = load_repository(src)
    if problems:
        raise RepositoryInvalid(problems)
    return repo


def load_repository(src: Path) -> tuple[SourceRepository, list[Problem]]:
    """Every release that could be read (valid or not otherwise) and every problem found."""
    problems: list[Problem] = []
    sets, set_problems = read_wheel_sets(src)
    problems.extend(Problem(str(p), r) for p, r in set_problems)
    packages = src / PACKAGES_DIR
    releases: list[PackageRelease] = []
    if not packages.is_dir():
        problems.append(Problem(str(packages), "no packages folder (packages/<name>/<release>/)"))
    else:
        for folder in sorted(packages.iterdir()):
            if not folder.is_dir():
                problems.append(Problem(str(folder), "packages/ holds one folder per package"))
                continue
            releases.extend(_load_package(folder, src, sets, problems))
    ordered = tuple(sorted(releases, key=lambda r: (r.name, r.release_version)))
    return SourceRepository(root=src, releases=ordered, wheel_sets=sets), problems


def _load_package(
    folder: Path, src: Path, sets: dict[str, WheelSet], problems: list[Problem],
) -> list[PackageRelease]:
    numbers: list[int] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir() and RELEASE_NAME.match(child.name):
            numbers.append(int(child.name))
        elif child.is_dir() and child.name == PACKAGE_IMAGES_DIR:
            _check_images_folder(child, problems)
        else:
            problems.append(Problem(str(child), "a package folder holds release folders named"
                                                f" 0, 1, 2 ... and an {PACKAGE_IMAGES_DIR}/"
                                                " folder only"))
    numbers.sort()
    if not numbers:
        problems.append(Problem(str(folder), "the package has no release folder (0/)"))
    missing = sorted(set(range(len(numbers) and numbers[-1] + 1)) - set(numbers))
    if missing:
        problems.append(Problem(str(folder), "releases must be numbered 0, 1, 2 ... without gaps;"
                                             f" missing {', '.join(map(str, missing))}"))
    releases = []
    for number in numbers:
        release = _load_release(folder / str(number), folder.name, number, src, sets, problems)
        if release is not None:
            releases.append(release)
    _check_versions(folder, numbers, problems)
    return releases


def _check_images_folder(folder: Path, problems: list[Problem]) -> None:
    """A package's images/ holds image files only (each is checked where a release names it)."""
    for child in sorted(folder.iterdir()):
        if not child.is_file() or child.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(Problem(str(child), f"{PACKAGE_IMAGES_DIR}/ holds the package's"
                                                " images only: SVG (.svg) or PNG (.png) files"))


def _check_versions(folder: Path, numbers: list[int], problems: list[Problem]) -> None:
    """Versions unique within the package and upgrade / downgrade edges naming its versions,
    from every release's package.json that can be read (a release faulty otherwise is checked
    too, so one run reports everything)."""
    docs: dict[int, dict[str, Any]] = {}
    for number in numbers:
        path = folder / str(number) / PACKAGE_JSON
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # reported by _load_release
        if isinstance(doc, dict) and isinstance(doc.get("version"), str):
            docs[number] = doc
    first: dict[str, int] = {}
    for number, doc in docs.items():
        where = str(folder / str(number) / PACKAGE_JSON)
        if doc["version"] in first:
            problems.append(Problem(where, f"version {doc['version']} is already release"
                                           f" {first[doc['version']]}'s version"))
        else:
            first[doc["version"]] = number
    for number, doc in docs.items():
        where = str(folder / str(number) / PACKAGE_JSON)
        for key in ("upgradesFrom", "downgradesTo"):
            edges = doc.get(key)
            for version in edges if isinstance(edges, list) else ():
                if isinstance(version, str) and version != ANY_VERSION and version not in first:
                    problems.append(Problem(where, f"{key} names {version!r}, which is no version"
                                                   f" of {folder.name}"))


def _load_release(
    folder: Path, name: str, number: int, src: Path, sets: dict[str, WheelSet],
    problems: list[Problem],
) -> PackageRelease | None:
    def add(file: str, reason: str) -> None:
        problems.append(Problem(str(folder / file), reason))

    for child in sorted(folder.iterdir()):
        if child.name not in RELEASE_FILES:
            add(child.name, "not a package file (package.json, config.json, resource.json,"
                            " marathon.json.mustache)")
    doc = _read_json(folder / PACKAGE_JSON, problems, required=True)
    config = _read_json(folder / CONFIG_JSON, problems)
    resource = _read_json(folder / RESOURCE_JSON, problems)
    template_path = folder / TEMPLATE
    template: str | None = None
    if not template_path.is_file():
        add(TEMPLATE, "missing: a package needs the app or group template")
    else:
        template = template_path.read_text(encoding="utf-8")
    before = len(problems)
    if config is not None:
        _check_config(config, lambda reason: add(CONFIG_JSON, reason))
    if resource is not None:
        _check_resource(resource, src, folder.parent, sets,
                        lambda reason: add(RESOURCE_JSON, reason))
    # The template is rendered with the defaults and resource only when those are sound.
    if template is not None and len(problems) == before:
        framework = isinstance(doc, dict) and doc.get("framework") is True
        _check_template(template, config, resource, framework,
                        lambda reason: add(TEMPLATE, reason))
    if doc is None:
        return None
    for reason in package_json_problems(doc):
        add(PACKAGE_JSON, reason)
    if isinstance(doc, dict) and doc.get("name") != name:
        add(PACKAGE_JSON, f"name {doc.get('name')!r} does not match its folder {name!r}")
    if len(problems) != before or not isinstance(doc, dict):
        return None
    try:
        return from_package_json(doc, release_version=number, config=config,
                                 resource=_indexed_resource(name, resource),
                                 marathon_template=template)
    except ModelError as exc:
        add(PACKAGE_JSON, str(exc))
        return None


def _read_json(path: Path, problems: list[Problem], required: bool = False) -> Any:
    if not path.is_file():
        if required:
            problems.append(Problem(str(path), "missing"))
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(Problem(str(path), f"not JSON: {exc.msg} at line {exc.lineno}"
                                           f" column {exc.colno}"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), f"not UTF-8 text: {exc}"))
    return None


def _check_config(config: Any, add: Report) -> None:
    if not isinstance(config, dict):
        add("must be a JSON Schema object")
        return
    if config.get("type") != "object":
        add('the options schema must have "type": "object" at its root')
    try:
        check_schema(config)
    except RenderError as exc:
        add(exc.reason)
        return
    for error in validate_options(config, merge_defaults(config)):
        add(f"the defaults break the schema at '{error.path or '/'}': {error.message}")


def _check_resource(resource: Any, src: Path, package: Path, sets: dict[str, WheelSet],
                    add: Report) -> None:
    found = resource_problems(resource)
    for problem in found:
        add(problem)
    if found:
        return
    produced = {s.asset_path for s in sets.values()}
    for name, uri in ((resource.get("assets") or {}).get("uris") or {}).items():
        if not ASSET_NAME.match(name):
            add(f"asset name {name!r} must match [a-z0-9_]+ (usable in a template as"
                f" {{{{resource.assets.uris.{name}}}}})")
        reason = _uri_problem(uri, src, produced)
        if reason:
            add(f"assets.uris.{name}: {reason}")
    images = resource.get("images") or {}
    for key, value in images.items():
        for uri in value if isinstance(value, list) else [value]:
            for reason in _image_uri_problems(uri, key, src, package, produced):
                add(f"images.{key}: {reason}")


def _image_uri_problems(uri: str, key: str, src: Path, package: Path,
                        produced: set[str]) -> list[str]:
    """Why `uri` cannot be the image `key`: a bad name, a missing file, or a file that is no
    sound SVG / PNG image (`dcos.packaging.images`). An http(s) image is not fetched."""
    if not urlparse(uri).scheme and PurePosixPath(uri).parts[:1] == (PACKAGE_IMAGES_DIR,):
        reason = package_image_problem(uri)
        if reason:
            return [reason]
        path = package / uri
        if not path.is_file():
            return [f"{uri!r}: {package.name}/{PACKAGE_IMAGES_DIR}/ holds no such file"]
    else:
        reason = _uri_problem(uri, src, produced)
        if reason:
            return [reason]
        if urlparse(uri).scheme:
            return []
        path = src / uri
    return [f"{uri!r}: {problem}" for problem in image_problems(path, key)]


def _indexed_resource(name: str, resource: Any) -> Any:
    """resource.json as the index carries it: each package image `images/<file>` named where
    the build copies it (`images/<name>/<file>`)."""
    if not isinstance(resource, dict) or not isinstance(resource.get("images"), dict):
        return resource

    def indexed(uri: Any) -> Any:
        return index_image_path(name, uri) if isinstance(uri, str) and is_package_image(uri) \
            else uri

    images = {key: [indexed(u) for u in value] if isinstance(value, list) else indexed(value)
              for key, value in resource["images"].items()}
    return {**resource, "images": images}


def _uri_problem(uri: str, src: Path, produced: set[str]) -> str | None:
    """Why `uri` is not a usable asset URI; None when it is. Relative ones are relative to the
    index: `assets/<set>.tar` of a wheel set, or a file under the repository's `assets/`."""
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        return None
    if scheme:
        return f"{uri!r}: use an http(s):// URL or a path relative to the index"
    parts = PurePosixPath(uri).parts
    if uri.startswith("/") or ".." in parts or not parts or parts[0] != ASSETS_DIR:
        return f"{uri!r}: a relative asset path must be assets/<file> (no '..')"
    if uri in produced or (src / uri).is_file():
        return None
    return f"{uri!r}: no wheel set builds it and {ASSETS_DIR}/ holds no such file"


def _check_template(
    template: str, config: Any, resource: Any, framework: bool, add: Report,
) -> None:
    options = merge_defaults(config if isinstance(config, dict) else None)
    try:
        rendered = render_template(template, options, resource if isinstance(resource, dict)
                                   else None)
    except RenderError as exc:
        add(f"rendering with the default options: {exc.reason}")
        return
    found = definition_problems(rendered)
    if not found and framework:
        found = framework_problems(rendered)
    for reason in found:
        add(f"rendered with the default options: {reason}")
