#!/usr/bin/env bash
# Installs the real DC/OS CLI, the Python dcoscli 0.6.1 (the last Python release), into its own
# venv (default .venv-dcoscli) for tests/compat/test_dcoscli.py. It has a venv of its own because
# it installs a top-level package named `dcos`, which would shadow dcos-py's.
#
# dcoscli 0.6.1 pins dependencies that do not build or import on Python 3.11 (cryptography
# 2.0.2, PyJWT 1.4.2, ...): it is installed without them, then with the closest versions that
# work, and a sitecustomize.py puts back the `collections.Mapping`-style aliases Python 3.10
# removed (the CLI and jsonschema 2.6 still import them from `collections`).
set -euo pipefail
venv=$(realpath -m "${1:-.venv-dcoscli}")
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --no-deps dcos==0.6.1 dcoscli==0.6.1
"${pip[@]}" 'jsonschema==2.6.0' 'pager==3.3' 'prettytable==0.7.2' 'pygments>=2,<3' \
    'requests>=2.6,<3' 'six>=1.9,<2' 'toml>=0.9,<1' 'sseclient==0.0.19' 'retrying==1.3.3' \
    'docopt==0.6.2' 'pkginfo==1.2.1' 'PyJWT' 'cryptography' 'setuptools<81'
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$site/sitecustomize.py" <<'EOF'
# Written by tests/compat/install_dcoscli.sh: dcoscli 0.6.1 predates Python 3.10.
import collections
import collections.abc

for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable"):
    setattr(collections, _name, getattr(collections.abc, _name))
EOF
"$venv/bin/dcos" --version | head -1
