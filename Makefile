# dcos-py: `make up` runs a local cluster (`make up-ha`: the highly available one, on a local
# ZooKeeper), `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COMPAT := .venv-compat/.installed
DCOSCLI := .venv-dcoscli/.installed

.PHONY: up up-ha test bench lint venv clean system-deps dist repo web

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint]'
	@touch $(STAMP)

# Debian packages (haproxy, dnsutils, zookeeper, redis-server): installed when missing and running as root.
system-deps: venv
	bash scripts/install-system-deps.sh
	bash scripts/share-python.sh $(PY)

# The default package repository (`dcos-py package build`): validate packages-repo/ and write
# packages-repo/build/index.json with its wheel sets (assets/<set>.tar). A second build with
# nothing changed is offline and fast.
repo: venv
	$(PY) -m dcos.cli package build packages-repo

# The web UI (dcos/web): npm installs preact, htm, uPlot and esbuild from the lock file, and
# `node build.mjs` bundles dcos/web/src into dcos/web/dist/, which the gateway serves.
WEB_STAMP := dcos/web/dist/.built
$(WEB_STAMP): dcos/web/package.json dcos/web/package-lock.json dcos/web/build.mjs dcos/web/index.html $(wildcard dcos/web/src/*.js dcos/web/src/*.css dcos/web/src/pages/*.js)
	cd dcos/web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

web: $(WEB_STAMP)

up: venv system-deps repo web
	$(VENV)/bin/dcos-py up

up-ha: venv system-deps repo web
	$(VENV)/bin/dcos-py up --ha

# Real third-party clients (pymesos) live in their own venv: they pin old dependencies.
$(COMPAT): tests/compat/install_pymesos.sh tests/compat/install_marathon.sh
	PYTHON=$(PYTHON) bash tests/compat/install_pymesos.sh .venv-compat
	PYTHON=$(PYTHON) bash tests/compat/install_marathon.sh .venv-compat
	@touch $(COMPAT)

# The real DC/OS CLI (Python dcoscli 0.6.1) for tests/compat/test_dcoscli.py: a venv of its own,
# because it installs a top-level `dcos` package.
$(DCOSCLI): tests/compat/install_dcoscli.sh
	PYTHON=$(PYTHON) bash tests/compat/install_dcoscli.sh .venv-dcoscli
	@touch $(DCOSCLI)

test: venv system-deps repo web $(COMPAT) $(DCOSCLI)
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 tests

# benchmarks/ui.py drives the built UI in Debian chromium through playwright (the test extra);
# control_plane.py and launch.py run with security off and on (--secure) and compare.
bench: venv system-deps web
	$(PY) -m pip install -q -e '.[test,bench]'
	@set -e; for b in benchmarks/[!_]*.py; do echo "== $$b"; \
	  case $$b in *control_plane.py|*launch.py) $(PY) $$b --secure;; *) $(PY) $$b;; esac; done

lint: venv
	$(VENV)/bin/ruff check dcos frameworks tests benchmarks examples scripts
	$(VENV)/bin/mypy dcos frameworks

# A wheel in dist/ that reports its build (git sha, commit date) in /version and --version.
dist: venv web
	$(PY) scripts/stamp_build.py
	$(PY) -m pip wheel . --no-deps -w dist

clean:
	rm -rf $(VENV) .venv-compat .venv-dcoscli dcos/web/node_modules dcos/web/dist .pytest_cache .mypy_cache .ruff_cache dist dcos/_build_stamp.json
