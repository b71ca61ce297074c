"""The webapp framework's load balancer (Marathon-LB style): HAProxy driven by `/v2/events`.

`labels` reads an app's HAPROXY_* labels, `config` renders the HAProxy config (sans-IO),
`runtime` turns server changes (tasks coming, draining, going) into runtime API commands so
they need no reload (sans-IO), `haproxy` runs and reloads HAProxy in master-worker mode,
`service` ties them to the event stream. Entry: `python -m frameworks.webapp.lb --webapp http://HOST:8080 --group external
--work-dir DIR [--haproxy /usr/sbin/haproxy] [--http-port 9080] [--stats-port 9090]`.
"""
