#!/usr/bin/env bash
# Removes dcos-py from one host: stops everything it runs (the agent's tasks included) and
# deletes what the installer put there, leaving the host as it was.
# Sent by `dcos-py uninstall` and `--remove-agent` (dcos/installer/uninstall.py) on stdin to
# `bash -s -- ARGS` over SSH, as root. It stands alone (stops the services itself, without
# services.sh), so that a host with a half-done install is cleaned too.
#
#   uninstall.sh --install-dir D --work-dir W
#
# Steps (each prints "<step>: <what>" lines; "removed: <path>" for each thing deleted):
#   1. the agent gets SIGUSR1: it kills its tasks and exits (dcos/agent/__main__.py); wait for it
#   2. supervisord shutdown (or systemd: disable --now + remove the dcos-py units + daemon-reload)
#   3. kill what is left whose executable, cwd or command line is under D or W (task processes
#      running as nobody included); only processes of this host: the same mount and network
#      namespaces as this script (hosts built as namespaces on one machine stay apart)
#   4. the agent's cgroups (empty ones, named by its containers' sandboxes, under
#      dcos-py/agent-* in each hierarchy), then the dcos-py/agent-* and dcos-py dirs when empty and no agent runs
#   5. the contents of D, W and /etc/dcos-py; each dir itself unless it is a mount point
#   6. Debian zookeeper, only when install.sh installed it
set -uo pipefail

ETC=${DCOS_PY_ETC:-/etc/dcos-py}  # the override is for tests only

main() {
    local install_dir="" work_dir=""
    while [ $# -gt 0 ]; do
        case $1 in
            --install-dir) install_dir=$2; shift 2 ;;
            --work-dir) work_dir=$2; shift 2 ;;
            *) echo "uninstall.sh: unknown argument $1" >&2; return 2 ;;
        esac
    done
    case $install_dir in /?*) ;; *) echo "uninstall.sh: --install-dir must be absolute" >&2; return 2 ;; esac
    case $work_dir in /?*) ;; *) echo "uninstall.sh: --work-dir must be absolute" >&2; return 2 ;; esac
    local d
    for d in "$install_dir" "$work_dir"; do  # never empty a system directory
        case ${d%/} in
            ""|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/mnt|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/usr/local|/usr/lib|/usr/share|/var|/var/lib|/var/log|/var/tmp)
                echo "uninstall.sh: refusing to empty $d (a system directory)" >&2; return 2 ;;
        esac
    done
    cd /
    local init=supervisord
    [ -f "$ETC/init" ] && init=$(cat "$ETC/init")
    if [ -d /run/systemd/system ] && ls /etc/systemd/system/dcos-py-*.service >/dev/null 2>&1; then
        init=systemd
    fi
    local venv=$install_dir/venv conf=$ETC/supervisord.conf pidfile=$work_dir/run/supervisord.pid
    local sv_pid=""
    if [ -f "$pidfile" ]; then
        sv_pid=$(tr -dc '0-9' < "$pidfile")
        if [ -z "$sv_pid" ] || ! tr '\0' ' ' < "/proc/$sv_pid/cmdline" 2>/dev/null | grep -q supervisord; then
            sv_pid=""
        fi
    fi

    # 1. the agent kills its tasks
    local agent_pid=""
    if [ "$init" = systemd ]; then
        agent_pid=$(systemctl show -p MainPID --value dcos-py-agent.service 2>/dev/null || true)
        [ "$agent_pid" = 0 ] && agent_pid=""
    elif [ -n "$sv_pid" ] && [ -x "$venv/bin/supervisorctl" ]; then
        agent_pid=$("$venv/bin/supervisorctl" -c "$conf" pid agent 2>/dev/null || true)
        case $agent_pid in ''|0|*[!0-9]*) agent_pid="" ;; esac
    fi
    if [ -n "$agent_pid" ] && kill -USR1 "$agent_pid" 2>/dev/null; then
        echo "agent: SIGUSR1 to pid $agent_pid (kill its tasks and exit)"
        # stopped through its manager too, so that it is not restarted once it exits (a new
        # agent would wait for masters that may be going away as well); the TERM this sends
        # arrives after the USR1, the agent still kills its tasks
        if [ "$init" = systemd ]; then
            systemctl stop dcos-py-agent.service >/dev/null 2>&1 &
        else
            "$venv/bin/supervisorctl" -c "$conf" stop agent >/dev/null 2>&1 &
        fi
        local i
        for i in $(seq 1 600); do
            [ -d "/proc/$agent_pid" ] || break
            sleep 0.1
        done
        if [ -d "/proc/$agent_pid" ]; then
            echo "agent: still running after 60 s; its tasks are killed below"
        else
            echo "agent: exited"
        fi
        wait || true
    else
        echo "agent: not running here"
    fi

    # 2. stop the services
    if [ "$init" = systemd ]; then
        local u
        for u in /etc/systemd/system/dcos-py-*.service; do
            [ -f "$u" ] || continue
            systemctl disable --now "$(basename "$u")" >/dev/null 2>&1 || true
            rm -f "$u"
            echo "removed: $u"
        done
        systemctl daemon-reload >/dev/null 2>&1 || true
        systemctl reset-failed 'dcos-py-*' >/dev/null 2>&1 || true
    fi
    if [ -n "$sv_pid" ]; then
        "$venv/bin/supervisorctl" -c "$conf" shutdown >/dev/null 2>&1 || kill -TERM "$sv_pid" 2>/dev/null || true
        local i
        for i in $(seq 1 600); do
            [ -d "/proc/$sv_pid" ] || break
            sleep 0.1
        done
        if [ -d "/proc/$sv_pid" ]; then
            kill -KILL "$sv_pid" 2>/dev/null || true
            echo "supervisord: killed (did not stop within 60 s)"
        else
            echo "supervisord: stopped"
        fi
    else
        echo "supervisord: not running"
    fi

    # 3 + 4. leftovers and cgroups
    local py=python3
    command -v python3 >/dev/null || py=""
    if [ -n "$py" ]; then
        "$py" - "$install_dir" "$work_dir" <<'PY'
import os, signal, sys, time

install_dir, work_dir = (os.path.realpath(p) for p in sys.argv[1:3])
roots = (install_dir, work_dir)


def under(path):
    return any(path == r or path.startswith(r + "/") for r in roots)


def ns(pid, name):
    try:
        return os.readlink("/proc/%s/ns/%s" % (pid, name))
    except OSError:
        return None


mine = (ns("self", "mnt"), ns("self", "net"))
spared = set()
pid = os.getpid()
while pid > 1:  # this script and its callers (bash, sshd) never match, but be sure
    spared.add(pid)
    try:
        with open("/proc/%d/stat" % pid) as f:
            pid = int(f.read().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        break


def ours(pid):
    if pid in spared or (ns(pid, "mnt"), ns(pid, "net")) != mine:
        return None
    for link in ("exe", "cwd"):
        try:
            target = os.readlink("/proc/%d/%s" % (pid, link))
        except OSError:
            continue
        if under(target.replace(" (deleted)", "")):
            return "%s %s" % (link, target)
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return None
    for a in args:
        for part in (a, a.partition("=")[2]):
            if part.startswith("/") and under(os.path.normpath(part)):
                return "argument " + a
    return None


def scan():
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            why = ours(int(name))
            if why:
                out[int(name)] = why
    return out


found = scan()
for pid, why in sorted(found.items()):
    print("kill: pid %d (%s)" % (pid, why))
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass
deadline = time.time() + 5
while found and time.time() < deadline:
    time.sleep(0.2)
    found = scan()
for pid in found:
    try:
        os.kill(pid, signal.SIGKILL)
        print("kill: pid %d SIGKILL" % pid)
    except OSError:
        pass
time.sleep(0.2 if found else 0)

# cgroups: the agent's containers are named by container id, the names of its sandboxes
# (<work_dir>/agent/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>)
names = set()
agent_dir = os.path.join(work_dir, "agent")
for root, dirs, files in os.walk(agent_dir):
    if os.path.basename(root) == "runs":
        names.update(dirs)
        dirs[:] = []  # not into the sandboxes themselves


def agent_running():
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                if b"dcos.agent\0" in f.read():
                    return True
        except OSError:
            pass
    return False


mounts = []
try:
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] in ("cgroup", "cgroup2"):
                mounts.append(fields[1])
except OSError:
    pass
others = agent_running()
for mount in mounts:
    for root, dirs, files in os.walk(mount, topdown=True):
        depth = root[len(mount):].count("/")
        if depth > 10:
            dirs[:] = []
            continue
        if os.path.basename(root) != "dcos-py":
            continue
        dirs[:] = []
        for agent in sorted(os.listdir(root)):
            base = os.path.join(root, agent)
            if not (agent.startswith("agent-") and os.path.isdir(base)):
                continue
            for cid in sorted(os.listdir(base)):
                path = os.path.join(base, cid)
                if cid in names and os.path.isdir(path):
                    try:
                        os.rmdir(path)
                        print("removed: cgroup %s" % path)
                    except OSError as exc:
                        print("cgroup: kept %s (%s)" % (path, exc.strerror))
            if not others:
                try:
                    os.rmdir(base)
                    print("removed: cgroup %s" % base)
                except OSError:
                    pass
        if not others:
            try:
                os.rmdir(root)
                print("removed: cgroup %s" % root)
            except OSError:
                pass
PY
    else
        echo "kill: python3 missing, leftovers not looked for"
    fi

    # 5. files
    local d
    for d in "$install_dir" "$work_dir" "$ETC"; do
        [ -e "$d" ] || continue
        if [ -z "$(ls -A "$d" 2>/dev/null)" ] && mountpoint -q "$d" 2>/dev/null; then
            continue  # an empty mount point: nothing of ours there
        fi
        local had_zk=0
        if [ "$d" = "$ETC" ] && [ -f "$ETC/.zookeeper-installed-by-dcos-py" ]; then had_zk=1; fi
        local size
        size=$(du -sh "$d" 2>/dev/null | cut -f1)
        find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
        if [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
            echo "uninstall.sh: could not empty $d: $(ls -A "$d" | head -n 3 | tr '\n' ' ')" >&2
            return 1
        fi
        if mountpoint -q "$d" 2>/dev/null; then
            echo "removed: contents of $d ($size; $d stays: a mount point)"
        else
            rmdir "$d" 2>/dev/null || true
            echo "removed: $d ($size)"
        fi
        if [ "$had_zk" = 1 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get remove -y -q zookeeper >/dev/null 2>&1 \
                && echo "removed: Debian package zookeeper (installed by dcos-py)" \
                || echo "zookeeper: apt-get remove failed; left installed"
        fi
    done
    echo "uninstall: done"
}

main "$@" </dev/null
exit $?
