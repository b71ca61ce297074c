"""Package images (icons and screenshots, `resource.json` `images`): where a source repository
keeps them, what the index calls them, the checks a file must pass, and copying them to the build.

A package keeps its images once, in `packages/<name>/images/`, shared by its releases; a
release's resource.json names one as `images/<file>`. The build copies the folder to
`<out>/images/<name>/` and the index names the file `images/<name>/<file>` (relative to the
index, as assets are; the package service serves it through `/package/resource`). A file under
the repository's `assets/` (`assets/<file>`) or an absolute http(s) URL may be named too.

Checks (`image_problems`): SVG or PNG (by name and by content), not empty nor too large;
icons square, PNG icons at least their nominal size (icon-small 48, icon-medium 96,
icon-large 256 pixels); an SVG has a size (width and height, or a viewBox), and neither script,
event handlers, foreign objects nor references outside itself (it is served from the UI's origin).

Called by: `dcos.packaging.validate` (`is_package_image`, `index_image_path`, `image_problems`)
and `dcos.packaging.build` (`copy_package_images`).
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

from dcos.packaging.assets import copy_if_changed

PACKAGE_IMAGES_DIR = "images"
BUILD_IMAGES_DIR = "images"
IMAGE_SUFFIXES = (".svg", ".png")
ICON_SIZES = {"icon-small": 48, "icon-medium": 96, "icon-large": 256}
MAX_ICON_BYTES = 256 * 1024
MAX_SCREENSHOT_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 8192
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LENGTH = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(px)?\s*$")
FORBIDDEN_ELEMENTS = frozenset({"script", "foreignObject", "iframe", "embed", "object"})


def is_package_image(uri: str) -> bool:
    """Whether `uri` names a file of the package's own images folder (`images/<file>`)."""
    parts = PurePosixPath(uri).parts
    return len(parts) == 2 and parts[0] == PACKAGE_IMAGES_DIR and not uri.startswith("/")


def package_image_problem(uri: str) -> str | None:
    """Why `images/<file>` is not a usable name (a sub-folder, '..', an odd name); None when it is."""
    parts = PurePosixPath(uri).parts
    if len(parts) != 2 or not FILE_NAME.match(parts[1]) or ".." in parts[1]:
        return f"{uri!r}: a package image is images/<file> (one file of packages/<name>/images/)"
    return None


def index_image_path(package: str, uri: str) -> str:
    """What the index calls the package image `uri` (`images/<file>` -> `images/<package>/<file>`)."""
    return f"{BUILD_IMAGES_DIR}/{package}/{PurePosixPath(uri).name}"


def image_problems(path: Path, key: str) -> list[str]:
    """Why the file `path` cannot be the image `key` (icon-small, icon-medium, icon-large,
    screenshots); [] when it can."""
    if not path.is_file():
        return ["no such file"]
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        return ["an image must be an SVG (.svg) or PNG (.png) file"]
    limit = MAX_ICON_BYTES if key in ICON_SIZES else MAX_SCREENSHOT_BYTES
    size = path.stat().st_size
    if size == 0:
        return ["the file is empty"]
    if size > limit:
        return [f"{size} bytes, more than the {limit // 1024} KiB allowed for {key}"]
    data = path.read_bytes()
    try:
        width, height = _svg_size(data) if suffix == ".svg" else _png_size(data)
    except ValueError as exc:
        return [str(exc)]
    return _size_problems(key, suffix, width, height)


def _size_problems(key: str, suffix: str, width: float, height: float) -> list[str]:
    if width <= 0 or height <= 0:
        return [f"its size {width:g}x{height:g} is empty"]
    if width > MAX_PIXELS or height > MAX_PIXELS:
        return [f"{width:g}x{height:g} is larger than {MAX_PIXELS}x{MAX_PIXELS}"]
    nominal = ICON_SIZES.get(key)
    if nominal is None:
        return []
    if abs(width - height) > 0.01 * max(width, height):
        return [f"an icon must be square, not {width:g}x{height:g}"]
    if suffix == ".png" and width < nominal:
        return [f"{width:g}x{height:g} is smaller than {key}'s {nominal}x{nominal}"]
    return []


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; ValueError when it is no PNG."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 24 or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (no PNG signature and IHDR header)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _svg_size(data: bytes) -> tuple[float, float]:
    """(width, height) of an SVG (its width/height, else its viewBox); ValueError when it is no
    SVG, has no size, or holds something an image served from the UI's origin must not."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise ValueError("an SVG icon must not have a DOCTYPE or entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"not an SVG file (not XML: {exc})") from None
    if root.tag != f"{SVG_NS}svg":
        raise ValueError(f"not an SVG file (the root element is {root.tag!r}, not"
                         " <svg xmlns=\"http://www.w3.org/2000/svg\">)")
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag in FORBIDDEN_ELEMENTS:
            raise ValueError(f"an SVG image must not contain <{tag}>")
        for attr, value in element.attrib.items():
            local = attr.rsplit("}", 1)[-1]
            if local.lower().startswith("on"):
                raise ValueError(f"an SVG image must not have event handlers ({local} on <{tag}>)")
            if (attr == XLINK_HREF or local == "href") and not value.startswith(("#", "data:image/")):
                raise ValueError(f"an SVG image must not refer to other files ({local}={value!r})")
    width, height = _length(root.get("width")), _length(root.get("height"))
    if width is not None and height is not None:
        return width, height
    box = (root.get("viewBox") or "").replace(",", " ").split()
    if len(box) == 4:
        try:
            return float(box[2]), float(box[3])
        except ValueError:
            pass
    raise ValueError("an SVG image needs a size: width and height in pixels, or a viewBox")


def _length(value: str | None) -> float | None:
    match = LENGTH.match(value or "")
    return float(match.group(1)) if match else None


def copy_package_images(src: Path, out: Path) -> list[Path]:
    """Copy every `packages/<name>/images/<file>` of the source repository `src` to
    `out/images/<name>/<file>` when missing or changed; returns the files copied."""
    copied: list[Path] = []
    packages = src / "packages"
    if not packages.is_dir():
        return copied
    for folder in sorted(p for p in packages.glob(f"*/{PACKAGE_IMAGES_DIR}") if p.is_dir()):
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            target = out / BUILD_IMAGES_DIR / folder.parent.name / path.name
            if copy_if_changed(path, target):
                copied.append(target)
    return copied
