"""Packages: the repository format (Universe v4), rendering of package templates, the index
builder, and the package service (a Cosmos-compatible HTTP API).

Modules: `model` (a package release), `schema` (package.json / index rules), `index` (reading and
writing a Universe v4 index), `render` (options and templates), `validate` (a source repository),
`assets` (wheel sets), `build` (the index builder: `build_repository`).
"""
