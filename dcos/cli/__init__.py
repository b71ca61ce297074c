"""dcos/cli."""
