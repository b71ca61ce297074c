"""dcos."""
