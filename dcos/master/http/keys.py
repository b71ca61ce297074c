"""The aiohttp app key under which the master's handlers find their `MasterShell`."""

from aiohttp import web

from dcos.master.shell import MasterShell

MASTER: web.AppKey[MasterShell] = web.AppKey("master", MasterShell)
