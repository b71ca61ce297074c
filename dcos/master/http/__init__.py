"""The master's HTTP side: scheduler API (`scheduler_api`), internal agent channel
(`agent_channel`), operator endpoints (`operator_api`, JSON views in `state_json`, Prometheus
metrics in `prometheus`), all routed by `routes.add_routes`. Handlers reach the master only
through the `MasterShell` under the `keys.MASTER` app key."""
