"""dcos/master."""
