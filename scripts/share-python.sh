#!/usr/bin/env bash
# Let unprivileged task users run the Python that dcos-py runs on.
# With security on (`dcos-py up --secure`, installed clusters) tasks run as an unprivileged user
# (`nobody` by default), and the executors and package commands they start use this interpreter
# ($DCOS_PYTHON). Where Python lives in a private home (pyenv under /root, mode 0700), that user
# gets "Permission denied". As root, this gives others the right to traverse (o+x: no listing,
# no reading of other files) each directory above the virtual environment's interpreter, its
# standard library and this checkout; it changes nothing else and prints what it changed.
# Called by: `make test` and `make up` (target system-deps). Without root it only reports.
set -euo pipefail
venv_python="${1:-.venv/bin/python}"
[ -x "$venv_python" ] || exit 0
paths=$("$venv_python" - <<'PY'
import os, sys, sysconfig
seen = set()
for p in (os.path.realpath(sys.executable), sysconfig.get_paths()["stdlib"], sys.prefix, os.getcwd()):
    d = os.path.realpath(p)
    while d not in ("/", ""):
        seen.add(d)
        d = os.path.dirname(d)
for d in sorted(seen):
    if os.path.isdir(d) and not os.stat(d).st_mode & 0o001:
        print(d)
PY
)
[ -n "$paths" ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "share-python: task users cannot reach $paths (chmod o+x them to run Python tasks as another user)" >&2
  exit 0
fi
for d in $paths; do
  chmod o+x "$d"
  echo "share-python: o+x $d (task users run this Python)"
done
