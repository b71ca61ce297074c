"""The master's HTTP shell: scheduler API, internal agent channel, operator endpoints."""
