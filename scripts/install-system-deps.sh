#!/usr/bin/env bash
# Install the Debian packages that dcos-py's tests and `dcos-py up` use, only those missing,
# only when running as root (otherwise print what to install and carry on).
# Called by: `make test` and `make up`. Safe to run again: it installs nothing already there.
#   haproxy  -> /usr/sbin/haproxy, the webapp load balancer engine (frameworks/webapp/lb)
#   dnsutils -> `dig`, a real DNS client the DNS tests query dcos/dns with
#   zookeeper -> /usr/share/zookeeper (and java): the HA state store and master election
#                (`dcos-py up --ha`, the tests' ZooKeeper servers: dcos/state/zk_server.py)
#   redis-server -> /usr/bin/redis-server (and redis-cli from redis-tools): what the `redis`
#                package of packages-repo/ runs on the agents (tests/packages/test_redis.py)
#   chromium -> /usr/bin/chromium, the headless browser tests/web drive with playwright
#   openssh-server -> /usr/sbin/sshd, the SSH server of each host of the installer's test bed
#                (installer/testbed: hosts in network namespaces, tests/installer)
set -euo pipefail

declare -A need=(
  [haproxy]=/usr/sbin/haproxy
  [dnsutils]=/usr/bin/dig
  [zookeeper]=/usr/share/zookeeper/bin/zkServer.sh
  [redis-server]=/usr/bin/redis-server
  [chromium]=/usr/bin/chromium
  [openssh-server]=/usr/sbin/sshd
)
missing=()
for pkg in "${!need[@]}"; do
  if [ ! -x "${need[$pkg]}" ]; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${missing[*]}; install them (e.g. sudo apt-get install -y ${missing[*]})" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
