# Preflight probe of one host: `dcos-py install --preflight` (dcos/installer/preflight.py)
# sends this file on stdin to `python3 - '<params json>'` over SSH, as root; it prints ONE JSON
# object on stdout describing the host and changes nothing (a test cgroup is made and removed).
# The judgement (PASS/FAIL) is made on the bootstrap host by `preflight.judge`.
#
# Standard library only, and syntax that old Pythons still parse (no f-strings, no
# annotations), so that a host with Python 3.4..3.10 reports its version instead of crashing.
#
# Parameters (argv[1], or the environment variable DCOS_PY_PROBE), a JSON object:
#   {"address": "10.0.0.21", "ports": [[5050, "tcp"], [53, "udp"], ...],
#    "install_dir": "/opt/dcos-py", "work_dir": "/var/lib/dcos-py", "ip_detect": "cmd" | null}
import errno
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import sysconfig
import time

INSTALLED = "/etc/dcos-py/installed.json"
ZK_SERVER = "/usr/share/zookeeper/bin/zkServer.sh"


def python_info():
    tag = "cp" + str(sys.version_info[0]) + str(sys.version_info[1])
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        tag += "t"
    out = {"version": platform.python_version(), "abi": tag,
           "implementation": sys.implementation.name, "executable": sys.executable}
    try:
        import ensurepip  # noqa: F401  (Debian ships it in python3-venv)
        out["ensurepip"] = True
    except ImportError:
        out["ensurepip"] = False
    try:
        import venv  # noqa: F401
        out["venv"] = True
    except ImportError:
        out["venv"] = False
    return out


def bind_state(family, kind, host, port):
    """'free', 'in use', or the error's text, for binding (host, port)."""
    s = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:  # as servers do: a port in TIME_WAIT is free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return "free"
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "in use"
        if exc.errno == errno.EADDRNOTAVAIL:
            return "address not on this host"
        return os.strerror(exc.errno) if exc.errno else str(exc)
    finally:
        s.close()


def _proc_holders(proto, port):
    """Local addresses holding `port` (TCP: listening; UDP: bound), from /proc/net; None
    when /proc/net cannot be read."""
    found = []
    read_any = False
    for fam in ("", "6"):
        path = "/proc/net/" + proto + fam
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4:
                continue
            addr_hex, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) != port:
                continue
            if proto == "tcp" and fields[3] != "0A":  # LISTEN
                continue
            found.append(_decode_addr(addr_hex))
    return sorted(set(found)) if read_any else None


def _decode_addr(hexaddr):
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def ports_info(address, ports):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
    out = []
    for item in ports:
        port, proto = int(item[0]), str(item[1])
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        out.append({"port": port, "proto": proto,
                    "host": bind_state(family, kind, address, port),
                    "any": bind_state(family, kind, wildcard, port),
                    "holders": _proc_holders(proto, port)})
    return out


def _mounts():
    try:
        with open("/proc/self/mounts") as f:
            return [line.split() for line in f.read().splitlines()]
    except OSError:
        return []


def _own_cgroup(v1_controller):
    """This process's cgroup path in the v1 hierarchy of `v1_controller` (or v2 with None)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f.read().splitlines():
                parts = line.split(":", 2)
                if len(parts) != 3:
                    continue
                if v1_controller is None and parts[1] == "":
                    return parts[2]
                if v1_controller is not None and v1_controller in parts[1].split(","):
                    return parts[2]
    except OSError:
        pass
    return "/"


def cgroups_info():
    """Which cgroup layout is mounted and whether a cgroup can be made (and removed) where the
    agent makes its own: v1 memory hierarchy (under this process's cgroup), else the unified
    hierarchy (under its mount point)."""
    v1_memory = None
    v2 = None
    for fields in _mounts():
        if len(fields) < 4:
            continue
        if fields[2] == "cgroup" and "memory" in fields[3].split(","):
            v1_memory = fields[1]
        elif fields[2] == "cgroup2" and v2 is None:
            v2 = fields[1]
    v2_controllers = []
    if v2 is not None:
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                v2_controllers = f.read().split()
        except OSError:
            pass
    out = {"v1_memory": v1_memory, "v2": v2, "v2_controllers": v2_controllers,
           "test_dir": None, "writable": False, "error": None}
    if v1_memory is not None:
        base = os.path.join(v1_memory, _own_cgroup("memory").strip("/"))
        if not os.path.isdir(base):
            base = v1_memory
    elif v2 is not None:
        base = v2
    else:
        out["error"] = "no cgroup v1 memory or cgroup2 hierarchy mounted"
        return out
    test = os.path.join(base, "dcos-py-preflight-" + str(os.getpid()))
    out["test_dir"] = test
    try:
        os.mkdir(test)
        try:
            out["writable"] = True
        finally:
            os.rmdir(test)
    except OSError as exc:
        out["writable"] = False
        out["error"] = test + ": " + (exc.strerror or str(exc))
    return out


def disk_info(path):
    p = os.path.abspath(path or "/")
    while not os.path.exists(p):
        p = os.path.dirname(p)
    try:
        st = os.statvfs(p)
        return {"path": path, "existing": p, "free": st.f_bavail * st.f_frsize,
                "device": os.stat(p).st_dev}
    except OSError as exc:
        return {"path": path, "existing": p, "free": None, "error": exc.strerror or str(exc)}


def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def installed_info():
    try:
        with open(INSTALLED) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return {"error": exc.strerror or str(exc)}
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else {"error": "not a JSON object"}
    except ValueError as exc:
        return {"error": "not JSON: " + str(exc)}


def ip_detect_info(cmd):
    if not cmd:
        return None
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return {"exit": None, "stdout": "", "stderr": "timed out after 15 s"}
        return {"exit": proc.returncode, "stdout": out.decode("utf-8", "replace"),
                "stderr": err.decode("utf-8", "replace")[-500:]}
    except OSError as exc:
        return {"exit": None, "stdout": "", "stderr": str(exc)}


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DCOS_PY_PROBE", "{}")
    params = json.loads(raw)
    address = params.get("address") or "127.0.0.1"
    out = {
        "probe": 1,
        "python": python_info(),
        "euid": os.geteuid(),
        "hostname": socket.gethostname(),
        "ports": ports_info(address, params.get("ports") or []),
        "cgroups": cgroups_info(),
        "disk": {"install_dir": disk_info(params.get("install_dir")),
                 "work_dir": disk_info(params.get("work_dir"))},
        "mem_available": mem_available(),
        "zookeeper": {"installed": os.path.exists(ZK_SERVER),
                      "apt_get": shutil.which("apt-get") is not None,
                      "java": shutil.which("java") is not None},
        "installed": installed_info(),
        "systemd": os.path.isdir("/run/systemd/system"),
        "ip_detect": ip_detect_info(params.get("ip_detect")),
    }
    out["time"] = time.time()  # last: the bootstrap host compares it with its clock on arrival
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
