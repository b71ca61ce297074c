#!/usr/bin/env bash
# Starts, restarts, stops and reports the dcos-py services of one host, under systemd where it
# runs, else under supervisord (PyPI supervisor, in the dcos-py venv).
# Sent by dcos/installer/deploy.py, upgrade.py and uninstall.py on stdin to `bash -s -- ARGS`
# over SSH, as root. Prints one line per thing it did ("supervisord: started", ...).
#
#   services.sh --install-dir D --work-dir W [--init auto|systemd|supervisord] COMMAND [NAME]
#   start          supervisord: start it when not running (pidfile W/run/supervisord.pid), else
#                  `supervisorctl reread` + `update` (changed programs restart, new ones start)
#                  + `start all`; systemd: copy /etc/dcos-py/systemd/*.service to
#                  /etc/systemd/system, daemon-reload, `enable --now`, restart changed units
#   restart [NAME] restart every program (or NAME: master, agent, ...); stopping the agent
#                  leaves its tasks running (stopasgroup=false / KillMode=process): the new
#                  agent process recovers them
#   status         each program's state; exit 0 only when all are running
#   stop           supervisord: `supervisorctl shutdown` (waits until it exited); systemd:
#                  `disable --now` every dcos-py unit, remove the units, daemon-reload
#   signal SIG NAME  send SIG to program NAME's main process (uninstall: USR1 to the agent)
#   pid NAME       the main pid of program NAME (empty when not running)
#
# Which init system: --init, else the one recorded in /etc/dcos-py/init by an earlier start,
# else systemd when /run/systemd/system exists and /etc/dcos-py/systemd has units, else
# supervisord. Without systemd nothing starts supervisord at boot: re-run
# `dcos-py install --deploy` after a reboot (it starts supervisord again and nothing else).
set -euo pipefail

ETC=${DCOS_PY_ETC:-/etc/dcos-py}  # the override is for tests only
CONF=$ETC/supervisord.conf
UNITS=/etc/systemd/system

main() {
    local install_dir="" work_dir="" init=auto
    while [ $# -gt 0 ]; do
        case $1 in
            --install-dir) install_dir=$2; shift 2 ;;
            --work-dir) work_dir=$2; shift 2 ;;
            --init) init=$2; shift 2 ;;
            --) shift; break ;;
            -*) echo "services.sh: unknown option $1" >&2; return 2 ;;
            *) break ;;
        esac
    done
    [ -n "$install_dir" ] && [ -n "$work_dir" ] \
        || { echo "services.sh: --install-dir and --work-dir are required" >&2; return 2; }
    local cmd=${1:-status}
    shift || true
    VENV=$install_dir/venv
    RUN=$work_dir/run
    PIDFILE=$RUN/supervisord.pid
    init=$(pick_init "$init")
    cd /
    case $init:$cmd in
        systemd:start) sd_start ;;
        systemd:restart) sd_restart "${1:-all}" ;;
        systemd:status) sd_status ;;
        systemd:stop) sd_stop ;;
        systemd:signal) systemctl kill --kill-who=main -s "$1" "dcos-py-$2.service" ;;
        systemd:pid) sd_pid "$1" ;;
        supervisord:start) sv_start ;;
        supervisord:restart) sv_restart "${1:-all}" ;;
        supervisord:status) sv_status ;;
        supervisord:stop) sv_stop ;;
        supervisord:signal) sv_signal "$1" "$2" ;;
        supervisord:pid) sv_pid "$1" ;;
        *) echo "services.sh: unknown command $cmd" >&2; return 2 ;;
    esac
}

pick_init() {
    local want=$1
    if [ "$want" = auto ] && [ -f "$ETC/init" ]; then want=$(cat "$ETC/init"); fi
    if [ "$want" = auto ]; then
        if [ -d /run/systemd/system ] && ls "$ETC"/systemd/*.service >/dev/null 2>&1; then
            want=systemd
        else
            want=supervisord
        fi
    fi
    case $want in
        systemd|supervisord) echo "$want" ;;
        *) echo "services.sh: unknown init system $want" >&2; return 2 ;;
    esac
}

# -- supervisord -------------------------------------------------------------------------------

ctl() { "$VENV/bin/supervisorctl" -c "$CONF" "$@"; }

sv_running_pid() {  # the pid of the running supervisord of this host, or nothing
    [ -f "$PIDFILE" ] || return 0
    local pid
    pid=$(tr -dc '0-9' < "$PIDFILE")
    [ -n "$pid" ] || return 0
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q supervisord; then
        echo "$pid"
    fi
}

sv_wait_ready() {  # until supervisorctl can talk to supervisord (or 30 s)
    local i
    for i in $(seq 1 300); do
        if ctl pid >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "services.sh: supervisord does not answer on its socket (see its log under $RUN/../logs)" >&2
    return 1
}

sv_start() {
    [ -f "$CONF" ] || { echo "services.sh: $CONF missing" >&2; return 1; }
    [ -x "$VENV/bin/supervisord" ] || { echo "services.sh: $VENV/bin/supervisord missing" >&2; return 1; }
    mkdir -p "$RUN" "$(dirname "$RUN")/logs"
    echo supervisord > "$ETC/init"
    local pid
    pid=$(sv_running_pid)
    if [ -z "$pid" ]; then
        rm -f "$PIDFILE"
        # a file, not a pipe: the daemon must not hold the SSH session's output open
        if ! "$VENV/bin/supervisord" -c "$CONF" </dev/null >"$RUN/supervisord.start" 2>&1; then
            echo "services.sh: supervisord did not start: $(tail -n 3 "$RUN/supervisord.start" | tr '\n' ' ')" >&2
            return 1
        fi
        sv_wait_ready
        echo "supervisord: started (pid $(sv_running_pid))"
    else
        sv_wait_ready
        local out
        out=$(ctl reread 2>&1 || true)
        echo "supervisord: running (pid $pid); reread: $(echo "$out" | tr '\n' ' ')"
        out=$(ctl update 2>&1 || true)
        [ -z "$out" ] || echo "supervisord: update: $(echo "$out" | tr '\n' ' ')"
    fi
    # programs that gave up (FATAL) or were stopped by hand start again; running ones stay
    ctl start all >/dev/null 2>&1 || true
}

sv_restart() {
    [ -n "$(sv_running_pid)" ] || { sv_start; }
    sv_wait_ready
    local out
    if ! out=$(ctl restart "$1" 2>&1); then
        echo "services.sh: supervisorctl restart $1 failed: $(echo "$out" | tr '\n' ' ')" >&2
        return 1
    fi
    echo "supervisord: restart $1: $(echo "$out" | tr '\n' ' ')"
}

sv_status() {
    if [ -z "$(sv_running_pid)" ]; then
        echo "supervisord: not running"
        return 3
    fi
    local out rc=0
    out=$(ctl status 2>&1) || rc=$?
    echo "$out"
    if [ -z "$out" ] || echo "$out" | grep -qv ' RUNNING '; then return 3; fi
    return $rc
}

sv_stop() {
    local pid
    pid=$(sv_running_pid)
    if [ -z "$pid" ]; then
        echo "supervisord: not running"
        return 0
    fi
    ctl shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 600); do  # programs get their stopwaitsecs; supervisord exits after them
        [ -d "/proc/$pid" ] || { echo "supervisord: stopped"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "supervisord: killed (did not stop within 60 s)"
}

sv_pid() {
    [ -n "$(sv_running_pid)" ] || return 0
    local pid
    pid=$(ctl pid "$1" 2>/dev/null || true)
    case $pid in ''|0|*[!0-9]*) ;; *) echo "$pid" ;; esac
}

sv_signal() {
    local pid
    pid=$(sv_pid "$2")
    [ -n "$pid" ] || { echo "$2: not running"; return 0; }
    kill -s "$1" "$pid"
    echo "$2: sent SIG$1 to pid $pid"
}

# -- systemd -----------------------------------------------------------------------------------

sd_units() {  # unit file names of /etc/dcos-py/systemd
    local f
    for f in "$ETC"/systemd/*.service; do [ -f "$f" ] && basename "$f"; done
    return 0
}

sd_start() {
    echo systemd > "$ETC/init"
    mkdir -p "$RUN" "$(dirname "$RUN")/logs"
    local u changed=() all=()
    for u in $(sd_units); do
        all+=("$u")
        if ! cmp -s "$ETC/systemd/$u" "$UNITS/$u"; then
            cp "$ETC/systemd/$u" "$UNITS/$u"
            chmod 644 "$UNITS/$u"
            changed+=("$u")
        fi
    done
    # units of programs this host no longer runs
    for u in "$UNITS"/dcos-py-*.service; do
        [ -f "$u" ] || continue
        if [ ! -f "$ETC/systemd/$(basename "$u")" ]; then
            systemctl disable --now "$(basename "$u")" >/dev/null 2>&1 || true
            rm -f "$u"
            echo "systemd: removed $(basename "$u")"
        fi
    done
    [ ${#all[@]} -gt 0 ] || { echo "services.sh: no units in $ETC/systemd" >&2; return 1; }
    systemctl daemon-reload
    local out
    if ! out=$(systemctl enable --now "${all[@]}" 2>&1); then
        echo "services.sh: systemctl enable --now failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')" >&2
        return 1
    fi
    if [ ${#changed[@]} -gt 0 ]; then
        systemctl restart "${changed[@]}"
        echo "systemd: started/restarted ${changed[*]}"
    else
        echo "systemd: units unchanged, all enabled"
    fi
}

sd_restart() {
    if [ "$1" = all ]; then
        systemctl restart $(sd_units)
    else
        systemctl restart "dcos-py-$1.service"
    fi
    echo "systemd: restart $1"
}

sd_status() {
    local u rc=0 state
    for u in $(sd_units); do
        state=$(systemctl is-active "$u" 2>/dev/null || true)
        echo "$u $state"
        [ "$state" = active ] || rc=3
    done
    return $rc
}

sd_stop() {
    local u
    for u in "$UNITS"/dcos-py-*.service; do
        [ -f "$u" ] || continue
        systemctl disable --now "$(basename "$u")" >/dev/null 2>&1 || true
        rm -f "$u"
        echo "systemd: stopped and removed $(basename "$u")"
    done
    systemctl daemon-reload || true
    systemctl reset-failed 'dcos-py-*' >/dev/null 2>&1 || true
}

sd_pid() {
    local pid
    pid=$(systemctl show -p MainPID --value "dcos-py-$1.service" 2>/dev/null || true)
    case $pid in ''|0) ;; *) echo "$pid" ;; esac
}

main "$@" </dev/null
exit $?
