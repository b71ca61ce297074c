"""dcos/sdk."""
