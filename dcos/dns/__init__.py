"""Service discovery: Mesos-DNS-style names for the webapp framework's apps.

`names` turns app ids into RFC 1123 labels, `records` builds the record table (sans-IO),
`server` answers DNS over UDP and TCP with dnslib, `http_api` serves Mesos-DNS's `/v1` HTTP API,
`service` keeps the table fresh from the webapp's event stream, `__main__` is the entry point
(`python -m dcos.dns --master HOST:PORT --webapp http://HOST:8080`).
"""
