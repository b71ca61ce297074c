"""Unit tests of dcos.installer (no hosts, no SSH)."""
