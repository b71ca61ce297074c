"""Schemathesis against every HTTP API's own OpenAPI description (``GET /openapi.json``).

One real `dcos-py up --agents 1` cluster (security off), started once for this folder
(`conftest.up_cluster`), serves every API: master, agent (its executor API included),
webapp, package service, gateway, batch dispatcher and the DNS HTTP API. Each test module
loads one API's description from the running process and lets schemathesis generate requests
from it (positive and negative data, a fixed seed: the same requests every run, a bounded
number per operation: `harness.EXAMPLES`). A request fails the test on a 5xx, on a status
code, content type or body the description does not list, or on no answer within
`harness.TIMEOUT_S` (a hang); the cluster must still answer ``/health`` after each module
(no crash).

Left out of the generated requests, kept in the descriptions: the event streams (Mesos
SUBSCRIBE calls, ``/v2/events``: an answer that never ends), and operations that would break
the shared cluster for the modules after them (each module's docstring names them).
"""
