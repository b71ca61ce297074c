"""dcos/testing."""
