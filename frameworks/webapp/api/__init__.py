"""The Marathon v2 REST API (aiohttp): `build_app(service)` in `frameworks.webapp.api.server`."""
