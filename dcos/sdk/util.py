"""Small helpers a framework needs besides offers and drivers, from `dcos.common`.

Frameworks import `dcos.sdk`, `dcos.protocol`, `dcos.state` and `dcos.testing` only (see
DESIGN.md); these are the shared one-copy helpers they use, re-exported here so a framework
(ours: webapp, batch; or a third party's) has one place to take them from:

- `parse_duration` ("5secs", "120s", "10mins" -> seconds; ValueError otherwise),
- `parse_master` / `MasterAddress` / `MasterAddressError` (master address forms),
- `Backoff` / `jittered` (exponential backoff with jitter),
- `atomic_write` (temp file + fsync + rename),
- `version_info` (the dcos-py version and build a framework runs with).
"""

from dcos.common.addresses import MasterAddress, MasterAddressError, parse_master
from dcos.common.backoff import Backoff, jittered
from dcos.common.durations import parse_duration
from dcos.common.files import atomic_write
from dcos.common.version import version_info

__all__ = [
    "Backoff",
    "MasterAddress",
    "MasterAddressError",
    "atomic_write",
    "jittered",
    "parse_duration",
    "parse_master",
    "version_info",
]
