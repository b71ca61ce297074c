#!/usr/bin/env bash
# The installer's multi-host test bed: N "hosts" on this machine, each a network namespace with
# its own address, its own sshd (own host key, root login by key only) and private mounts of
# /opt/dcos-py, /var/lib/dcos-py and /etc/dcos-py, so hosts do not share installs.
#
#   netns.sh up N DIR        build hosts h1..hN under DIR (a left-over bed is removed first)
#   netns.sh down [DIR]      kill every process of each host, delete namespaces, veths, bridge,
#                            the hosts' dirs under DIR and the mount point dirs the bed made
#   netns.sh exec HOST CMD.. run CMD on HOST (h3, 3 or 10.213.0.13): its network and mounts
#   netns.sh kill HOST       SIGKILL every process of HOST except its sshd (the host's services die)
#   netns.sh pids HOST       the pids of HOST's processes, one a line (sshd included)
#   netns.sh addr HOST       HOST's address
#
# Network: bridge dcpy0 10.213.0.1/24 in the root namespace (the bootstrap host), namespace
# dcpy-hN with one veth (root side dcpy-vN, host side eth0) at 10.213.0.(10+N)/24, lo up, no
# default route: hosts reach only 10.213.0.0/24. Files: DIR/id_ed25519{,.pub} (the client key,
# made by the bed), DIR/authorized_keys, DIR/hN/{opt,var,etc} (the host's private dirs),
# DIR/hN/{ssh_host_ed25519_key,sshd_config,sshd.pid,sshd.log}. Each host's sshd (and so all
# that runs on the host) sits in its own cgroup dcpy-hN under this process's cgroup in every
# hierarchy: agents on different hosts keep their cgroups apart; and in its own UTS namespace
# (host name dcpy-hN). Run as root. Called by
# tests/installer/conftest.py and benchmarks/install.py through installer/testbed/bed.py.
set -euo pipefail

BRIDGE=dcpy0
NET=10.213.0
PREFIX=dcpy-h
VETH=dcpy-v
MOUNTS=(/opt/dcos-py /var/lib/dcos-py /etc/dcos-py)
SUBDIRS=(opt var etc)
STATE=/run/dcpy-testbed      # remembers the bed's DIR and the mount point dirs it made

die() { echo "netns.sh: $*" >&2; exit 1; }

host_index() {  # h3 | 3 | dcpy-h3 | 10.213.0.13 -> 3
    local h=$1
    case $h in
        "$NET".*) echo $(( ${h##*.} - 10 )) ;;
        "$PREFIX"*) echo "${h#"$PREFIX"}" ;;
        h*) echo "${h#h}" ;;
        *) echo "$h" ;;
    esac
}

bed_hosts() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX[0-9]*$" || true; }

sshd_pid() {  # the listening sshd of host index $1 (not its per-connection children)
    local ns=$PREFIX$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = sshd ] || continue
        local ppid
        ppid=$(awk '{print $4}' /proc/"$pid"/stat 2>/dev/null) || continue
        [ "$(cat /proc/"$ppid"/comm 2>/dev/null)" = sshd ] && continue
        echo "$pid"; return 0
    done
    return 1
}

cgroup_parents() {  # "<mount>/<this process's cgroup>" of each cgroup hierarchy, one a line
    local d name key path
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # cgroup v2 only
        path=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
        echo "/sys/fs/cgroup${path%/}"
        return 0
    fi
    for d in /sys/fs/cgroup/*; do
        [ -d "$d" ] && [ ! -L "$d" ] && [ -f "$d/cgroup.procs" ] || continue
        name=${d##*/}
        case $name in
            unified) key="" ;;
            systemd) key=name=systemd ;;
            *) key=$name ;;
        esac
        path=$(awk -F: -v k="$key" '$2 == k {print $3; exit}' /proc/self/cgroup)
        [ -n "$path" ] || [ -z "$key" ] || continue
        [ -n "$path" ] || path=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
        echo "$d${path%/}"
    done
}

host_cgroups() {  # make host $1's cgroup in every hierarchy (best effort); print their dirs
    local parent cg
    for parent in $(cgroup_parents); do
        cg=$parent/$PREFIX$1
        mkdir -p "$cg" 2>/dev/null || continue
        if [ -f "$cg/cpuset.cpus" ]; then
            cat "$parent/cpuset.cpus" > "$cg/cpuset.cpus" 2>/dev/null || true
            cat "$parent/cpuset.mems" > "$cg/cpuset.mems" 2>/dev/null || true
        fi
        echo "$cg"
    done
}

remove_cgroups() {  # every dcpy-hN cgroup (and what the host made inside it), deepest first
    local parent cg
    for parent in $(cgroup_parents); do
        for cg in "$parent/$PREFIX"*; do
            [ -d "$cg" ] || continue
            find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
}

kill_ns() {  # SIGKILL every process of namespace $1 except sshd when $2 = keep-sshd
    local ns=$1 keep=${2:-} pid round
    for round in 1 2 3 4 5 6 7 8 9 10; do
        local left=0
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            [ "$pid" = $$ ] && continue
            if [ "$keep" = keep-sshd ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = sshd ]; then
                continue
            fi
            kill -KILL "$pid" 2>/dev/null || true
            left=1
        done
        [ $left = 0 ] && return 0
        sleep 0.1
    done
}

cmd_down() {
    local dir=${1:-}
    [ -z "$dir" ] && [ -f $STATE/dir ] && dir=$(cat $STATE/dir)
    local ns
    for ns in $(bed_hosts); do kill_ns "$ns"; done
    for ns in $(bed_hosts); do ip netns del "$ns" 2>/dev/null || true; done
    local link
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$VETH[0-9]*$" || true); do
        ip link del "$link" 2>/dev/null || true
    done
    ip link del $BRIDGE 2>/dev/null || true
    remove_cgroups
    if [ -f $STATE/made ]; then
        local m
        while read -r m; do
            [ -n "$m" ] && rmdir "$m" 2>/dev/null || true
        done < $STATE/made
    fi
    rm -rf $STATE
    if [ -n "$dir" ] && [ -d "$dir" ] && [ -z "${DCPY_BED_KEEP:-}" ]; then
        rm -rf "$dir"/h[0-9]*
    fi
    return 0
}

write_sshd_config() {  # $1 = DIR, $2 = index
    local dir=$1 i=$2 h=$1/h$2
    cat > "$h/sshd_config" <<EOF
ListenAddress $NET.$((10 + i))
Port 22
HostKey $h/ssh_host_ed25519_key
PidFile $h/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $dir/authorized_keys
Subsystem sftp internal-sftp
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
EOF
}

wait_ssh() {  # $1 = DIR, $2 = index: until sshd accepts a login with the bed's key
    local dir=$1 addr=$NET.$((10 + $2)) n
    for n in $(seq 1 100); do
        if ssh -i "$dir/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -o ConnectTimeout=2 -o LogLevel=ERROR "root@$addr" true 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    die "sshd of h$2 ($addr) does not accept logins; see $dir/h$2/sshd.log"
}

cmd_up() {
    local n=${1:?usage: up N DIR} dir=${2:?usage: up N DIR}
    [ "$(id -u)" = 0 ] || die "run as root"
    [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing (Debian openssh-server)"
    [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "N must be 1..50"
    cmd_down "$dir"
    mkdir -p "$dir" $STATE /run/sshd
    dir=$(cd "$dir" && pwd)
    echo "$dir" > $STATE/dir
    : > $STATE/made
    local m
    for m in "${MOUNTS[@]}"; do
        if [ ! -d "$m" ]; then mkdir -p "$m"; echo "$m" >> $STATE/made; fi
    done
    if [ ! -f "$dir/id_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C dcpy-testbed -f "$dir/id_ed25519"
    fi
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys"
    chmod 600 "$dir/id_ed25519" "$dir/authorized_keys"

    ip link add $BRIDGE type bridge
    ip addr add $NET.1/24 dev $BRIDGE
    ip link set $BRIDGE up
    local i
    for i in $(seq 1 "$n"); do
        local ns=$PREFIX$i h=$dir/h$i
        ip netns add "$ns"
        ip link add "$VETH$i" type veth peer name "dcpy-p$i"
        ip link set "dcpy-p$i" netns "$ns"
        ip -n "$ns" link set "dcpy-p$i" name eth0
        ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip link set "$VETH$i" master $BRIDGE
        ip link set "$VETH$i" up
        mkdir -p "$h/opt" "$h/var" "$h/etc"
        ssh-keygen -q -t ed25519 -N '' -C "dcpy-h$i" -f "$h/ssh_host_ed25519_key"
        write_sshd_config "$dir" "$i"
        local binds="mount --bind $h/opt ${MOUNTS[0]} && mount --bind $h/var ${MOUNTS[1]} && mount --bind $h/etc ${MOUNTS[2]}"
        # the host's own cgroup in each hierarchy: what runs on it (an agent's cgroups too)
        # stays apart from the other hosts', as on separate machines
        local join="" cg
        for cg in $(host_cgroups "$i"); do join="$join echo \$\$ > $cg/cgroup.procs 2>/dev/null;"; done
        # nsenter, not `ip netns exec`: that remounts /sys, hiding /sys/fs/cgroup from the host
        setsid nsenter --net=/run/netns/"$ns" unshare -m -u --propagation private \
            sh -c "$join hostname $ns && $binds && exec /usr/sbin/sshd -D -e -f $h/sshd_config" \
            < /dev/null >> "$h/sshd.log" 2>&1 &
    done
    for i in $(seq 1 "$n"); do wait_ssh "$dir" "$i"; done
    echo "$n" > $STATE/hosts
}

need_host() {
    local i
    i=$(host_index "${1:?HOST missing}")
    ip netns list | awk '{print $1}' | grep -qx "$PREFIX$i" || die "no host $1 in the bed"
    echo "$i"
}

cmd_exec() {
    local i pid
    i=$(need_host "$1"); shift
    pid=$(sshd_pid "$i") || die "sshd of h$i is not running"
    exec nsenter --target "$pid" --mount --net --uts -- "$@"
}

cmd_kill() {
    local i
    i=$(need_host "$1")
    kill_ns "$PREFIX$i" keep-sshd
}

cmd_pids() {
    local i
    i=$(need_host "$1")
    ip netns pids "$PREFIX$i"
}

case ${1:-} in
    up) shift; cmd_up "$@" ;;
    down) shift; cmd_down "$@" ;;
    exec) shift; cmd_exec "$@" ;;
    kill) shift; cmd_kill "$@" ;;
    pids) shift; cmd_pids "$@" ;;
    addr) shift; echo "$NET.$((10 + $(host_index "${1:?HOST missing}")))" ;;
    *) die "usage: netns.sh up N DIR | down [DIR] | exec HOST CMD... | kill HOST | pids HOST | addr HOST" ;;
esac
