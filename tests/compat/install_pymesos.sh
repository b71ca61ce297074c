#!/usr/bin/env bash
# Builds a separate venv with the real pymesos 0.3.15 client (and kazoo, for its zk:// master
# detection), for the compatibility tests.
# pymesos' dependency http-parser 0.9.0 ships a Cython file that no longer compiles on 3.11:
# regenerate its C source with a current Cython first, then install pymesos normally.
set -euo pipefail
venv=$(realpath -m "${1:-.venv-compat}")
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip cython
if ! "$venv/bin/python" -c "import http_parser.parser" 2>/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && "$venv/bin/python" -m pip download -q --no-deps --no-binary :all: http-parser==0.9.0 \
     && tar xzf http-parser-0.9.0.tar.gz \
     && cd http-parser-0.9.0 \
     && "$venv/bin/cython" -3 http_parser/parser.pyx -o http_parser/parser.c)
  "$venv/bin/python" -m pip install -q "$tmp/http-parser-0.9.0"
fi
# kazoo: pymesos' ZooKeeper master detection (zk:// masters; tests/compat/test_pymesos_zk.py)
"$venv/bin/python" -m pip install -q pymesos==0.3.15 "kazoo>=2.10"
"$venv/bin/python" -c "import pymesos, http_parser.parser, kazoo; print('pymesos', pymesos.__file__)"
