"""``/metrics/prometheus`` (``dcos_webapp_*`` read at scrape time) and ``/debug/stimuli`` (the
core's last inputs and the actions they caused), through aiohttp's test client."""

from dcos.sdk import Offer
from dcos.testing import make_offer

APP = {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 3}


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in\n{text}")


async def test_prometheus_metrics_follow_the_state(client):
    text = await (await client.get("/metrics/prometheus")).text()
    assert metric(text, "dcos_webapp_apps") == 0 and metric(text, "dcos_webapp_deployments") == 0
    assert (await client.post("/v2/apps", json=APP)).status == 201
    offer = Offer(make_offer(agent_id="a1", hostname="h1", resources="cpus:0.25;mem:64;ports:[31000-31099]"))
    await client.svc.on_offers([offer])  # room for two of the three
    r = await client.get("/metrics/prometheus")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = await r.text()
    assert metric(text, "dcos_webapp_apps") == 1
    assert metric(text, "dcos_webapp_deployments") == 1
    assert metric(text, 'dcos_webapp_instances{state="TASK_STAGING"}') == 2
    assert metric(text, "dcos_webapp_queue_tasks") == 1 and metric(text, "dcos_webapp_queue_apps") == 1
    assert metric(text, "dcos_webapp_offers_received_total") == 1
    assert metric(text, "dcos_webapp_tasks_launched_total") == 2
    # Marathon's JSON stays at /metrics
    assert "gauges" in await (await client.get("/metrics")).json()


async def test_debug_stimuli_lists_inputs_and_their_actions(client):
    await client.post("/v2/apps", json=APP)
    await client.svc.on_offers([Offer(make_offer(agent_id="a1", hostname="h1"))])
    body = await (await client.get("/debug/stimuli?limit=2")).json()
    assert body["capacity"] > 0 and body["recorded"] >= 2
    deploy, offers = body["entries"]
    assert deploy["event"]["type"] == "Deploy"
    kinds = [a["type"] for a in deploy["actions"]]
    assert "Persist" in kinds and "Publish" in kinds
    assert offers["event"]["type"] == "Offers"
    assert {a["type"] for a in offers["actions"]} >= {"Persist", "Launch"}
    assert len((await (await client.get("/debug/stimuli?limit=1")).json())["entries"]) == 1
    assert (await client.get("/debug/stimuli?limit=x")).status == 400
