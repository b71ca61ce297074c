"""The wire contract of dcos-py: pure data, no I/O.

Everything the master, agents, SDK and frameworks exchange is defined here: typed ids,
the `Resources` value type, task states and reasons, JSON (Mesos v1 shapes) and msgpack
codecs, RecordIO framing and the internal master <-> agent messages.
"""
