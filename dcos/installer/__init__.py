"""`dcos-py install`: stand a cluster up on hosts over SSH (config, genconf, preflight, deploy,
postflight) -- the installer's Python code.

It lives under the `dcos` package so the wheel installs no top-level module named `installer`
(that name belongs to PyPA's `installer` distribution, which build tools import). The
repository's top-level ``installer/`` folder holds only the host-side assets the installer ships
(service definitions, bootstrap scripts, templates) and its multi-host test bed; it is not a
Python package.
"""
