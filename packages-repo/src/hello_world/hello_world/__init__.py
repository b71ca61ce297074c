"""hello_world: the service of the `hello-world` package (packages-repo/packages/hello-world).

An HTTP server (standard library only) that answers ``GET /`` with its message and
``GET /health`` with ``{"status": "ok", ...}``; see `hello_world.server` and ``python -m
hello_world --help``.
"""

__all__ = ["__version__"]
__version__ = "0.2.0"
