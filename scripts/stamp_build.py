"""Write dcos/_build_stamp.json (git sha, commit time, user) before building a wheel or sdist.

Run by: ``make dist`` (``python scripts/stamp_build.py && python -m build``). An installed
dcos-py (no git checkout around it) reports this stamp in ``/version`` and ``--version``.
"""

from __future__ import annotations

import sys

from dcos.common.version import STAMP, stamp_json, version_info


def main() -> int:
    info = version_info()
    if info.git_sha == "unknown":
        sys.stderr.write("stamp_build: not a git checkout and no stamp: nothing to write\n")
        return 1
    STAMP.write_text(stamp_json(), encoding="utf-8")
    sys.stdout.write(f"wrote {STAMP} ({info.git_sha[:12]}{' dirty' if info.dirty else ''})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
