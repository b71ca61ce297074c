"""The dask package's task launcher (see `dcos_dask.launch`)."""
