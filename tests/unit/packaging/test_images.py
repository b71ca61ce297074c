"""Package images (dcos/packaging/images.py and their use by validate and build): a package's
`images/` folder named from resource.json as `images/<file>`, checked (SVG or PNG, size, square
icons, nothing active in an SVG), copied by the build to `build/images/<name>/` and named there
by the index; every shipped package has its three icons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging_repo_factory import (
    SVG_ICON,
    package_json,
    png_bytes,
    write_package_image,
    write_release,
)

import dcos
from dcos.packaging.build import build_repository
from dcos.packaging.images import image_problems
from dcos.packaging.validate import load_repository, validate_repository

SHIPPED = Path(dcos.__file__).resolve().parents[1] / "packages-repo"
ICONS = {"icon-small": "images/icon.svg", "icon-medium": "images/icon.svg",
         "icon-large": "images/icon.svg"}


def svg(attrs: str = 'width="96" height="96"', body: str = "<rect width='9' height='9'/>") -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}>{body}</svg>'


def problems_of(root: Path) -> list[tuple[str, str]]:
    _repo, problems = load_repository(root)
    return [(str(Path(p.path).relative_to(root)), p.reason) for p in problems]


@pytest.mark.parametrize("name,content,key", [
    ("a.svg", SVG_ICON, "icon-small"),
    ("a.svg", svg('viewBox="0 0 24 24"'), "icon-large"),  # an SVG scales: no minimum
    ("a.svg", svg('width="640px" height="400px"'), "screenshots"),
    ("a.png", png_bytes(48, 48), "icon-small"),
    ("a.png", png_bytes(256, 256), "icon-medium"),
    ("a.png", png_bytes(800, 600), "screenshots"),
])
def test_good_images(tmp_path: Path, name: str, content: str | bytes, key: str) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    assert image_problems(path, key) == []


@pytest.mark.parametrize("name,content,key,fragment", [
    ("a.gif", b"GIF89a", "icon-small", "an image must be an SVG (.svg) or PNG (.png) file"),
    ("a.png", b"", "icon-small", "the file is empty"),
    ("a.png", b"\x89PNG fake", "icon-small", "not a PNG file"),
    ("a.png", png_bytes(32, 32), "icon-small", "32x32 is smaller than icon-small's 48x48"),
    ("a.png", png_bytes(200, 200), "icon-large", "smaller than icon-large's 256x256"),
    ("a.png", png_bytes(96, 48), "icon-medium", "an icon must be square, not 96x48"),
    ("a.svg", b"<svg", "icon-small", "not an SVG file (not XML"),
    ("a.svg", b"<html xmlns='http://www.w3.org/1999/xhtml'/>", "icon-small", "the root element"),
    ("a.svg", svg("").encode(), "icon-small", "needs a size"),
    ("a.svg", svg('width="100%" height="100%"').encode(), "icon-small", "needs a size"),
    ("a.svg", svg('viewBox="0 0 64 32"').encode(), "icon-small", "must be square, not 64x32"),
    ("a.svg", svg(body="<script>alert(1)</script>").encode(), "icon-small", "<script>"),
    ("a.svg", svg('width="9" height="9" onload="alert(1)"').encode(), "icon-small",
     "event handlers (onload on <svg>)"),
    ("a.svg", svg(body="<image href='http://evil/x.png' width='9' height='9'/>").encode(),
     "icon-small", "must not refer to other files (href='http://evil/x.png')"),
    ("a.svg", b'<!DOCTYPE svg [<!ENTITY x "y">]>' + svg().encode(), "icon-small", "DOCTYPE"),
    ("a.svg", svg(body="<!--" + "x" * 300_000 + "-->").encode(), "icon-small",
     "more than the 256 KiB allowed for icon-small"),
])
def test_bad_images_say_why(tmp_path: Path, name: str, content: bytes, key: str,
                            fragment: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    problems = image_problems(path, key)
    assert len(problems) == 1 and fragment in problems[0], problems


def test_package_images_folder_named_by_releases_and_indexed(tmp_path: Path) -> None:
    write_package_image(tmp_path, "hello")
    write_release(tmp_path, "hello", 0, resource={"images": ICONS})
    write_release(tmp_path, "hello", 1, package=package_json("hello", "1.1.0"),
                  resource={"images": {**ICONS, "screenshots": [
        "images/icon.svg", "https://example.org/shot.png"]}})
    repo = validate_repository(tmp_path)
    for release in repo.releases:
        assert release.images()["icon-small"] == "images/hello/icon.svg"
    assert repo.releases[1].images()["screenshots"] == [
        "images/hello/icon.svg", "https://example.org/shot.png"]


def test_image_faults_are_reported_with_the_file(tmp_path: Path) -> None:
    write_package_image(tmp_path, "hello", "big.png", png_bytes(32, 32))
    write_package_image(tmp_path, "hello", "notes.txt", "not an image")
    (tmp_path / "packages" / "hello" / "images" / "sub").mkdir()
    write_release(tmp_path, "hello", 0, resource={"images": {
        "icon-small": "images/missing.svg", "icon-medium": "images/big.png",
        "icon-large": "images/sub/x.svg", "screenshots": ["images/../0/package.json"]}})
    (tmp_path / "packages" / "hello" / "icon.svg").write_text(SVG_ICON)
    found = problems_of(tmp_path)
    where = "packages/hello/0/resource.json"
    expected = [
        (where, "images.icon-small: 'images/missing.svg': hello/images/ holds no such file"),
        (where, "images.icon-medium: 'images/big.png': 32x32 is smaller than icon-medium's 96x96"),
        (where, "images.icon-large: 'images/sub/x.svg': a package image is images/<file>"),
        (where, "images.screenshots: 'images/../0/package.json': a package image is images/<file>"),
        ("packages/hello/images/notes.txt", "holds the package's images only"),
        ("packages/hello/images/sub", "holds the package's images only"),
        ("packages/hello/icon.svg", "release folders named 0, 1, 2 ... and an images/ folder"),
    ]
    for path, fragment in expected:
        assert any(p == path and fragment in r for p, r in found), (path, fragment, found)
    assert len(found) == len(expected), found


def test_repository_assets_as_images_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "icon.png").write_bytes(b"\x89PNG fake")
    write_release(tmp_path, "hello", 0, resource={"images": {"icon-small": "assets/icon.png"}})
    assert problems_of(tmp_path) == [("packages/hello/0/resource.json",
                                      "images.icon-small: 'assets/icon.png': not a PNG file (no"
                                      " PNG signature and IHDR header)")]


def test_build_copies_package_images_where_the_index_names_them(tmp_path: Path) -> None:
    icon = write_package_image(tmp_path, "hello")
    write_release(tmp_path, "hello", 0, resource={"images": ICONS})
    out = tmp_path / "out"
    first = build_repository(tmp_path, out)
    assert first.copied_assets == (out / "images" / "hello" / "icon.svg",)
    entry = json.loads(first.index_path.read_text())["packages"][0]
    for key, uri in entry["resource"]["images"].items():
        assert uri == "images/hello/icon.svg", key
        assert (out / uri).read_bytes() == icon.read_bytes()
    assert build_repository(tmp_path, out).copied_assets == ()  # unchanged: nothing copied
    icon.write_text(SVG_ICON.replace("#2a5bd7", "#c4302b"))
    assert build_repository(tmp_path, out).copied_assets == (out / "images/hello/icon.svg",)
    assert "#c4302b" in (out / "images" / "hello" / "icon.svg").read_text()


def test_every_shipped_release_has_its_three_icons() -> None:
    repo = validate_repository(SHIPPED)
    assert {r.name for r in repo.releases} >= {
        "hello-world", "redis", "dask", "webapp", "batch-dispatcher", "tweeter",
        "tweeter-analytics"}
    for release in repo.releases:
        images = release.images()
        for key in ("icon-small", "icon-medium", "icon-large"):
            assert images.get(key) == f"images/{release.name}/icon.svg", (release.name, key)
        assert image_problems(SHIPPED / "packages" / release.name / "images" / "icon.svg",
                              "icon-large") == []
