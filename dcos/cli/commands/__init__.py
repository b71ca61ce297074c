"""dcos/cli/commands: one module per `dcos-py <noun>` command group."""
