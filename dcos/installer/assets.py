"""The installer's assets in the checkout's top-level ``installer/`` folder: the host scripts
and the probe (``installer/host/``, sent to hosts over SSH) and the service templates
(``installer/templates/``, rendered by genconf). They are not in the wheel: the installer runs
from a dcos-py checkout (DESIGN.md, layout).

`read_asset` is called by `dcos.installer.deploy.host_script`, `dcos.installer.preflight`
(the probe) and `dcos.installer.units` (the templates), each time a step needs one.
"""

from __future__ import annotations

from pathlib import Path

import dcos

ASSETS = Path(dcos.__file__).resolve().parents[1] / "installer"


def read_asset(*parts: str) -> str:
    """The text of ``installer/<parts...>``; FileNotFoundError naming the file when missing."""
    path = ASSETS.joinpath(*parts)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"installer asset {path} is missing ({exc.strerror}): the "
                                "installer runs from a dcos-py checkout") from None
