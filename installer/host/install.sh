#!/usr/bin/env bash
# Installs (or updates) dcos-py on one host from a bundle already copied there; idempotent.
# Sent by `dcos-py install --deploy`/`--upgrade`/`--add-agent` (dcos/installer/deploy.py) on
# stdin to `bash -s -- ARGS` over SSH, as root; prints one line per thing it did or kept
# ("venv: created ...", "dcos: kept ...") for the host's log. Exit non-zero with a one-line
# reason on stderr when something fails.
#
#   --install-dir D   {install_dir}: the venv goes to D/venv
#   --bundle B        D/bundle/<build_id>: B/wheels/*.whl (every wheel, offline)
#   --wheel NAME      the dcos-py wheel's file name in B/wheels
#   --zookeeper       (masters with the ensemble) apt-get install Debian zookeeper if missing
#   --etc DIR         copy DIR/. into /etc/dcos-py (security/ 0700, private keys 0600)
#   --repo DIR        (masters) D/repo becomes a link to DIR, the bundle's package repository
#                     (the package service's default repo: file://D/repo/index.json)
#
# The venv is made with the host's python3 when missing; `pip install --no-index` installs the
# dcos-py wheel and its dependencies from B/wheels; a different dcos-py build (same version
# number, other wheel) is forced in with `--force-reinstall --no-deps`. D/venv/.dcos-wheel
# records the sha256 of the wheel installed last, so a re-run with the same wheel runs no pip.
set -euo pipefail

main() {
    local install_dir="" bundle="" wheel="" zookeeper=0 etc="" repo=""
    while [ $# -gt 0 ]; do
        case $1 in
            --install-dir) install_dir=$2; shift 2 ;;
            --bundle) bundle=$2; shift 2 ;;
            --wheel) wheel=$2; shift 2 ;;
            --zookeeper) zookeeper=1; shift ;;
            --etc) etc=$2; shift 2 ;;
            --repo) repo=$2; shift 2 ;;
            *) echo "install.sh: unknown argument $1" >&2; return 2 ;;
        esac
    done
    [ -n "$install_dir" ] && [ -n "$bundle" ] && [ -n "$wheel" ] \
        || { echo "install.sh: --install-dir, --bundle and --wheel are required" >&2; return 2; }
    local whl=$bundle/wheels/$wheel
    [ -f "$whl" ] || { echo "install.sh: $whl missing (bundle not copied?)" >&2; return 1; }
    umask 022
    cd /
    install_venv "$install_dir" "$bundle" "$whl"
    share_python "$install_dir"
    if [ "$zookeeper" = 1 ]; then install_zookeeper; fi
    if [ -n "$etc" ]; then copy_etc "$etc"; fi
    if [ -n "$repo" ]; then link_repo "$install_dir" "$repo"; fi
}

link_repo() {
    local install_dir=$1 repo=$2
    [ -d "$repo" ] || { echo "install.sh: $repo missing" >&2; return 1; }
    if [ -e "$install_dir/repo" ] && [ ! -L "$install_dir/repo" ]; then rm -rf "$install_dir/repo"; fi
    ln -sfn "$repo" "$install_dir/repo"
    echo "repo: $install_dir/repo -> $repo"
}

install_venv() {
    local install_dir=$1 bundle=$2 whl=$3 venv=$1/venv
    mkdir -p "$install_dir"
    chmod 755 "$install_dir"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        command -v python3 >/dev/null || { echo "install.sh: python3 not found" >&2; return 1; }
        rm -rf "$venv"
        local out
        if ! out=$(python3 -m venv "$venv" 2>&1); then
            echo "install.sh: python3 -m venv failed (Debian: apt-get install python3-venv): $(echo "$out" | tail -n 2 | tr '\n' ' ')" >&2
            return 1
        fi
        echo "venv: created $venv ($("$venv/bin/python" -V 2>&1))"
    else
        echo "venv: kept $venv"
    fi
    local sum
    sum=$(sha256sum "$whl" | cut -d' ' -f1)
    if [ -f "$venv/.dcos-wheel" ] && [ "$(cat "$venv/.dcos-wheel")" = "$sum" ]; then
        echo "dcos: kept $(basename "$whl") (already installed)"
        return 0
    fi
    local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check
               --no-input --no-index --find-links "$bundle/wheels")
    local out
    if ! out=$("${pip[@]}" "$whl" 2>&1); then
        echo "install.sh: pip install $(basename "$whl") failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')" >&2
        return 1
    fi
    # the same version number from another build: pip thinks it is installed already
    if ! out=$("${pip[@]}" --force-reinstall --no-deps "$whl" 2>&1); then
        echo "install.sh: pip install --force-reinstall $(basename "$whl") failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')" >&2
        return 1
    fi
    echo "$sum" > "$venv/.dcos-wheel"
    echo "dcos: installed $(basename "$whl")"
}

# Task users (nobody) run this venv's Python: they must be able to traverse every directory
# above its interpreter and standard library (o+x only; nothing becomes readable that was not).
share_python() {
    local venv=$1/venv d
    local paths
    paths=$("$venv/bin/python" - <<'PY'
import os, sys, sysconfig
seen = set()
for p in (os.path.realpath(sys.executable), sysconfig.get_paths()["stdlib"], sys.prefix):
    d = os.path.realpath(p)
    while d not in ("/", ""):
        seen.add(d)
        d = os.path.dirname(d)
for d in sorted(seen):
    if os.path.isdir(d) and not os.stat(d).st_mode & 0o001:
        print(d)
PY
)
    for d in $paths; do
        chmod o+x "$d"
        echo "share-python: o+x $d (task users run this Python)"
    done
}

install_zookeeper() {
    if [ -x /usr/share/zookeeper/bin/zkServer.sh ]; then
        echo "zookeeper: kept (installed)"
        return 0
    fi
    command -v apt-get >/dev/null || { echo "install.sh: ZooKeeper missing and no apt-get to install it" >&2; return 1; }
    local out
    if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends zookeeper 2>&1); then
        out=$(DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1 \
              && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends zookeeper 2>&1) || {
            echo "install.sh: apt-get install zookeeper failed: $(echo "$out" | tail -n 2 | tr '\n' ' ')" >&2
            return 1
        }
    fi
    # remembered so that uninstall removes the package only when we installed it
    mkdir -p /etc/dcos-py && touch /etc/dcos-py/.zookeeper-installed-by-dcos-py
    echo "zookeeper: installed (apt-get)"
}

copy_etc() {
    local src=$1 dst=${DCOS_PY_ETC:-/etc/dcos-py}  # the override is for tests only
    [ -d "$src" ] || { echo "install.sh: $src missing" >&2; return 1; }
    mkdir -p "$dst"
    chmod 755 "$dst"
    # the security dir first closed, then filled: no moment where a key is readable by others
    if [ -d "$src/security" ]; then
        mkdir -p "$dst/security"
        chmod 700 "$dst/security"
    fi
    cp -R --preserve=mode "$src/." "$dst/"
    chown -R root:root "$dst"
    if [ -d "$dst/security" ]; then
        find "$dst/security" -type d -exec chmod 700 {} +
        find "$dst/security" -type f -exec chmod 644 {} +
        find "$dst/security" -type f \( -name '*.key' -o -name 'credentials.json' \
            -o -name 'admin.password' -o -name 'bootstrap.json' -o -name '*.secret' \) \
            -exec chmod 600 {} +
    fi
    local n
    n=$(find "$src" -type f | wc -l)
    echo "etc: $n file(s) copied to $dst"
}

main "$@" </dev/null
exit $?
