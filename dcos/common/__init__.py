"""dcos/common."""
