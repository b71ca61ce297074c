"""`python -S -m dcos_dask scheduler|worker ... -- <dask args>`: see `dcos_dask.launch`."""

from dcos_dask.launch import main

main()
