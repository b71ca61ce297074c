"""The gateway: dcos-py's one HTTP entry point, like DC/OS' Admin Router.

``python -m dcos.gateway`` (`dcos.gateway.__main__`) serves the web UI (`dcos.web`) at ``/``
and proxies ``/mesos/`` to the leading master, ``/service/<name>/`` to frameworks and
labelled apps, ``/package/`` to the package service, ``/agent/<id>/`` to agents and ``/dns/``
to the DNS API, plus the DC/OS compatibility endpoints the DC/OS CLI reads
(`dcos.gateway.metadata`). Modules, each with one job:

- `config`: flags -> `GatewayConfig`;
- `routes`: sans-IO routing core (path + directory snapshot -> where it goes);
- `directory`: the cluster directory (leader, frameworks, agents, labelled apps), cached;
- `leader`: the leading master among ``--master`` URLs or through ``--zk``;
- `proxy`: the streaming relay (no buffering; JSON errors);
- `static`: the built UI files;
- `metadata`: the DC/OS compatibility endpoints;
- `app`: the aiohttp application and the `Gateway` lifetime.

docs/gateway.md lists the routes, flags and errors.
"""
