"""dcos/agent."""
