#!/usr/bin/env bash
# GPU check: on a machine with an NVIDIA GPU, start a master and one agent, launch one task
# with gpus:1 from a small SDK framework (GPU_RESOURCES capability), and show that the task
# sees exactly one GPU. Run from the repo root: scripts/gpu_check.sh
# Exits 0 only if the task finished and its `nvidia-smi -L` listed exactly one GPU.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv && .venv/bin/pip install -q -e . || { echo "venv setup failed"; exit 2; }
fi
echo "== nvidia-smi -L on the host"; nvidia-smi -L || { echo "no nvidia-smi"; exit 2; }
W=$(mktemp -d /tmp/dcos-gpu-check.XXXXXX)
port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MP=$(port); AP=$(port)
.venv/bin/python -m dcos.master --ip 127.0.0.1 --port "$MP" --work-dir "$W/master" \
  --allocation-interval 0.2 --log-file "$W/master.log" &
MPID=$!
.venv/bin/python -m dcos.agent --master "127.0.0.1:$MP" --ip 127.0.0.1 --port "$AP" \
  --work-dir "$W/agent" --resources "cpus:1;mem:1024;disk:1024" --log-file "$W/agent.log" &
APID=$!
cleanup() { kill "$APID" "$MPID" 2>/dev/null; wait "$APID" "$MPID" 2>/dev/null; }
trap cleanup EXIT

timeout 120 .venv/bin/python - "$MP" "$AP" <<'PYEOF'
import asyncio, json, os, sys, time, urllib.request
from dcos.sdk import OfferPacker, Scheduler, SchedulerDriver, TaskNeeds, task_info

MP, AP = sys.argv[1], sys.argv[2]
CMD = "nvidia-smi -L; echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"

def get(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.loads(r.read())

class GpuScheduler(Scheduler):
    def __init__(self):
        self.launched = False
        self.done = asyncio.Event()
        self.final = None
    async def resource_offers(self, driver, offers):
        for offer in offers:
            fit = OfferPacker(offer).take(TaskNeeds.parse("cpus:0.1;mem:64;gpus:1"))
            if self.launched or not fit.ok:
                await driver.decline([offer], refuse_seconds=1)
                continue
            self.launched = True
            await driver.launch([offer], [task_info("gpu-task", "gpu-task", offer.agent_id, CMD, fit.resources)])
    async def status_update(self, driver, status):
        print("status:", status.state, status.get("message", ""), flush=True)
        if status.state in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"):
            self.final = status
            self.done.set()

async def main():
    deadline = time.time() + 60
    while True:
        try:
            if get(f"http://127.0.0.1:{MP}/master/slaves")["slaves"]:
                break
        except OSError:
            pass
        if time.time() > deadline:
            print("agent did not register"); return 1
        await asyncio.sleep(0.2)
    state = get(f"http://127.0.0.1:{AP}/state")
    print("agent resources:", state["resources"])
    print("agent isolation:", state.get("isolation"))
    print("agent gpus:", json.dumps(state.get("gpus")))
    sched = GpuScheduler()
    info = {"name": "gpu-check", "capabilities": [{"type": "GPU_RESOURCES"}]}
    driver = SchedulerDriver(sched, info, f"127.0.0.1:{MP}")
    await driver.start()
    try:
        await asyncio.wait_for(sched.done.wait(), 60)
    except TimeoutError:
        print("no terminal status in 60 s (no offer with gpus?)"); return 1
    finally:
        await driver.stop()
    state = get(f"http://127.0.0.1:{AP}/state")
    runs = [e["directory"] for f in state["frameworks"] + state["completed_frameworks"]
            for e in f["executors"] + f["completed_executors"] if e["id"] == "gpu-task"]
    out = open(os.path.join(runs[0], "stdout")).read() if runs else ""
    err = open(os.path.join(runs[0], "stderr")).read() if runs else ""
    print("== task stdout\n" + out + "== task stderr\n" + err, end="")
    print("agent gpus after:", json.dumps(state.get("gpus")))
    gpus = [l for l in out.splitlines() if l.startswith("GPU ")]
    ok = sched.final.state == "TASK_FINISHED" and len(gpus) == 1 and "CUDA_VISIBLE_DEVICES=" in out
    print("RESULT:", "OK: the task saw exactly one GPU" if ok else f"FAIL ({len(gpus)} GPU lines)")
    return 0 if ok else 1

sys.exit(asyncio.run(main()))
PYEOF
rc=$?
[ $rc -eq 0 ] || { echo "== agent log tail"; tail -20 "$W/agent.log"; }
exit $rc
