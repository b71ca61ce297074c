"""dcos/allocator."""
