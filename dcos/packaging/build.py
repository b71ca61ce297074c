"""The index builder: validate a source package repository, build its wheel sets, copy its
assets and its packages' images (`packages/<name>/images/` -> `<out>/images/<name>/`), and write the Universe v4 index (`<out>/index.json`, default `<src>/build/`).

Called by: `dcos-py package build DIR` (the CLI calls `build_repository`; `make repo` runs it)
and `python -m dcos.packaging.build DIR [--out DIR] [--skip-assets]` (`main`, no CLI needed). Nothing is written
when the repository has a fault; the index is written only after every asset is built, so a
served index never names a missing asset.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dcos.packaging.assets import (
    AssetError,
    Outcome,
    Runner,
    build_wheel_set,
    copy_repository_assets,
)
from dcos.packaging.images import copy_package_images
from dcos.packaging.index import dump_index
from dcos.packaging.model import PackageRelease
from dcos.packaging.validate import RepositoryInvalid, validate_repository

BUILD_DIR = "build"
INDEX_FILE = "index.json"


class AssetsFailed(Exception):
    """One or more wheel sets could not be built; `errors` has each (set and pip's last lines)."""

    def __init__(self, errors: list[AssetError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote: the index file, the releases in it, each wheel set's outcome
    ("built", "fresh"; none when assets were skipped) and the repository assets and package
    images copied."""

    index_path: Path
    releases: tuple[PackageRelease, ...]
    wheel_sets: dict[str, Outcome] = field(default_factory=dict)
    copied_assets: tuple[Path, ...] = ()

    def summary(self) -> str:
        """One line per fact, for the CLI."""
        names = sorted({r.name for r in self.releases})
        lines = [f"{self.index_path}: {len(self.releases)} release(s) of {len(names)} package(s)"]
        lines += [f"wheel set {name}: {outcome}" for name, outcome in sorted(self.wheel_sets.items())]
        if self.copied_assets:
            lines.append(f"{len(self.copied_assets)} asset file(s) copied")
        return "\n".join(lines)


def build_repository(
    src: Path, out: Path | None = None, skip_assets: bool = False, runner: Runner | None = None,
) -> BuildResult:
    """Validate `src`, build its assets and copy its images (unless `skip_assets`) into `out`
    (default `src/build`) and write `out/index.json`. Raises `RepositoryInvalid` (every faulty file and why) before
    writing anything, or `AssetsFailed` (every failing wheel set) before writing the index.
    `runner` replaces subprocess for pip (tests)."""
    src = Path(src)
    out = Path(out) if out is not None else src / BUILD_DIR
    repo = validate_repository(src)
    outcomes: dict[str, Outcome] = {}
    copied: list[Path] = []
    if not skip_assets:
        errors: list[AssetError] = []
        for name, wheel_set in sorted(repo.wheel_sets.items()):
            try:
                outcomes[name] = build_wheel_set(wheel_set, out, runner=runner)
            except AssetError as exc:
                errors.append(exc)
        if errors:
            raise AssetsFailed(errors)
        copied = copy_repository_assets(src, out) + copy_package_images(src, out)
    out.mkdir(parents=True, exist_ok=True)
    index_path = out / INDEX_FILE
    partial = index_path.with_name(INDEX_FILE + ".partial")
    partial.write_bytes(dump_index(repo.releases))
    os.replace(partial, index_path)
    return BuildResult(index_path=index_path, releases=repo.releases, wheel_sets=outcomes,
                       copied_assets=tuple(copied))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dcos.packaging.build DIR [--out DIR] [--skip-assets]`: 0 when the index is
    written, 1 (every problem on stderr) otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m dcos.packaging.build",
        description="Validate a package repository and write its Universe v4 index.")
    parser.add_argument("src", type=Path, help="the source repository (e.g. packages-repo)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default SRC/build)")
    parser.add_argument("--skip-assets", action="store_true",
                        help="validate and write the index without building wheel sets")
    args = parser.parse_args(argv)
    try:
        result = build_repository(args.src, args.out, skip_assets=args.skip_assets)
    except (RepositoryInvalid, AssetsFailed) as exc:
        print(f"package build failed: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
