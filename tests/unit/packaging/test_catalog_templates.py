"""Every shipped package, rendered with its defaults, is a definition the webapp framework itself
accepts (its app and group validation, not just the structural checks `package build` makes:
dcos must not import frameworks, a test may)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dcos
from dcos.packaging.model import PackageRelease
from dcos.packaging.render import definition_kind, merge_defaults, render_template
from dcos.packaging.validate import load_repository
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.group import flatten_group

SHIPPED = Path(dcos.__file__).resolve().parents[1] / "packages-repo"
# load_repository never raises (a broken package fails test_validate_repo, not collection).
RELEASES = load_repository(SHIPPED)[0].releases


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: f"{r.name}-{r.release_version}")
def test_default_rendering_is_accepted_by_the_webapp(release: PackageRelease) -> None:
    assert release.marathon_template is not None
    doc = render_template(release.marathon_template, merge_defaults(release.config),
                          release.resource)
    if definition_kind(doc) == "group":
        apps, _groups, errors = flatten_group(doc)
        assert errors == [] and apps
    else:
        app, errors = normalize(doc)
        assert errors == [] and app is not None
