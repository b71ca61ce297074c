"""The dcos-py web UI: static files built by `make web` (`node build.mjs`: preact, htm and uPlot
from npm, bundled by esbuild) into `DIST`, which the gateway (`dcos.gateway.static`) serves at
`/`. The sources are in `src/` (plain JavaScript modules); nothing third-party is committed.
"""

from __future__ import annotations

from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"

__all__ = ["DIST"]
