#!/usr/bin/env bash
# Installs the real marathon-python 0.13.0 client into the compatibility venv (built by
# install_pymesos.sh), for tests/compat/test_marathon_python.py.
set -euo pipefail
venv=$(realpath -m "${1:-.venv-compat}")
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q marathon==0.13.0
"$venv/bin/python" -c "import collections, collections.abc; collections.Iterable = collections.abc.Iterable; import marathon; print('marathon', marathon.__file__)"
