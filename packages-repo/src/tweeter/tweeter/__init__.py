"""tweeter: the dcos-py demo web app (a timeline of short messages stored in Redis).

Modules: `discovery` (finding Redis through dcos-py DNS), `store` (the Redis data model),
`web` (the aiohttp app), `__main__` (flags and start: `python -m tweeter`).
"""
