"""dcos/state."""
