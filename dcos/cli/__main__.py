"""`python -m dcos.cli` runs the `dcos-py` command line."""

from dcos.cli.main import main

main()
