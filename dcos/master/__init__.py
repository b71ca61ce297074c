"""dcos/master: the master core (sans-IO, `dcos.master.core`) and its aiohttp shell
(`dcos.master.app`: `MasterConfig`, `create_master`, `start_master`, `run_master`)."""
