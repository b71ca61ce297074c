"""dcos.packaging.render: defaults, merging, validation with every failing path, rendering."""

from __future__ import annotations

import copy

import pytest

from dcos.packaging.render import (
    OptionError,
    RenderError,
    definition_kind,
    merge_defaults,
    merge_options,
    render_template,
    validate_options,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "service": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "hello"},
                "instances": {"type": "integer", "minimum": 1, "default": 2},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "ports": {"type": "array", "items": {"type": "integer"}, "default": [80]},
                "port": {"type": "integer"},
            },
            "required": ["name", "port"],
            "additionalProperties": False,
        },
        "nodefaults": {"type": "object", "properties": {"x": {"type": "string"}}},
        "whole": {"type": "object", "default": {"k": 1},
                  "properties": {"k": {"type": "integer", "default": 9}}},
    },
}


def test_defaults_nested_and_own_default_wins() -> None:
    assert merge_defaults(SCHEMA) == {
        "service": {"name": "hello", "instances": 2, "mode": "a", "ports": [80]},
        "nodefaults": {},
        "whole": {"k": 1},
    }
    assert merge_defaults(None) == {}
    assert merge_defaults({"type": "object"}) == {}


def test_merge_options_deep_merges_and_replaces_lists_without_mutating() -> None:
    user = {"service": {"instances": 5, "ports": [1, 2]}, "extra": True}
    before = copy.deepcopy(user)
    merged = merge_options(SCHEMA, user)
    assert merged["service"] == {"name": "hello", "instances": 5, "mode": "a", "ports": [1, 2]}
    assert merged["extra"] is True
    assert user == before
    merged["service"]["ports"].append(3)
    assert merge_defaults(SCHEMA)["service"]["ports"] == [80]


def test_validate_options_reports_every_failing_path() -> None:
    options = merge_options(SCHEMA, {"service": {"instances": 0, "mode": "c", "ports": [1, "x"],
                                                 "bogus": 1}})
    errors = validate_options(SCHEMA, options)
    paths = [e.path for e in errors]
    assert paths == sorted(paths)
    assert set(paths) == {"/service", "/service/instances", "/service/mode", "/service/port",
                          "/service/ports/1"}
    by_path = {e.path: e.message for e in errors}
    assert "minimum of 1" in by_path["/service/instances"]
    assert "required" in by_path["/service/port"]
    assert "bogus" in by_path["/service"]
    assert all(isinstance(e, OptionError) for e in errors)


def test_validate_options_reports_carry_cosmos_validator_fields() -> None:
    """The DC/OS CLI prints `unwanted`, `found`, `expected`, `minimum`, `missing` and the
    instance pointer of each JsonSchemaMismatch error: every report has them where they apply."""
    options = merge_options(SCHEMA, {"service": {"instances": 0, "mode": "c", "ports": [1, "x"],
                                                 "bogus": 1}})
    reports = {e.path: e.report for e in validate_options(SCHEMA, options)}
    assert reports["/service"]["unwanted"] == ["bogus"]
    assert reports["/service"]["instance"] == {"pointer": "/service"}
    assert reports["/service/instances"]["minimum"] == 1
    assert reports["/service/instances"]["found"] == 0
    assert reports["/service/ports/1"]["found"] == "string"
    assert reports["/service/ports/1"]["expected"] == ["integer"]
    assert reports["/service/mode"]["enum"] == ["a", "b"]
    port = reports["/service/port"]
    assert port["missing"] == ["port"] and port["instance"] == {"pointer": "/service"}
    assert port["schema"] == {"loadingURI": "#", "pointer": "/properties/service"}


def test_validate_options_root_and_valid_cases() -> None:
    assert validate_options(SCHEMA, merge_options(SCHEMA, {"service": {"port": 8080}})) == []
    assert validate_options(None, {"anything": 1}) == []
    errors = validate_options({"type": "object"}, [])  # type: ignore[arg-type]
    assert [e.path for e in errors] == [""]


def test_validate_options_invalid_schema_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="config schema is invalid"):
        validate_options({"type": "object", "properties": {"a": {"type": "nonsense"}}}, {})


def test_render_booleans_sections_and_json_safe_strings() -> None:
    template = (
        '{"id": "/{{name}}", "cmd": "{{{cmd}}}", "env": {"A": "{{text}}", "B": "{{{text}}}"},'
        ' "flag": {{flag}}, "off": {{off}}{{#flag}}, "on": 1{{/flag}}{{^off}}, "neg": 2{{/off}},'
        ' "instances": {{n}}, "cpus": {{cpus}}}'
    )
    text = 'a "q" & <b> \\ back\nline'
    doc = render_template(template, {"name": "x", "cmd": "a && b > c", "text": text,
                                     "flag": True, "off": False, "n": 3, "cpus": 0.5}, None)
    assert doc == {"id": "/x", "cmd": "a && b > c", "env": {"A": text, "B": text}, "flag": True,
                   "off": False, "on": 1, "neg": 2, "instances": 3, "cpus": 0.5}


def test_render_resource_asset_uris() -> None:
    resource = {"assets": {"uris": {"dask_wheels": "http://svc/package/resource?url=x%2Fy.tar"}}}
    doc = render_template('{"id": "/a", "cmd": "x", "fetch": [{"uri":'
                          ' "{{resource.assets.uris.dask_wheels}}"}]}', {}, resource)
    assert doc["fetch"] == [{"uri": "http://svc/package/resource?url=x%2Fy.tar"}]


def test_render_group() -> None:
    doc = render_template('{"id": "/g", "apps": [{"id": "a", "cmd": "x"}]}', {}, None)
    assert definition_kind(doc) == "group"
    assert definition_kind({"id": "/a"}) == "app"


@pytest.mark.parametrize("template, reason", [
    ("{{#open}} never closed", "not valid Mustache"),
    ('{"id": "/a", "instances": {{n}} }', "not JSON: Expecting value at line 1 column 28 of the rendered text"),
    ("[1, 2]", "JSON list, not an object"),
    ('{"cmd": "x"}', "neither an app"),
])
def test_render_errors(template: str, reason: str) -> None:
    with pytest.raises(RenderError) as info:
        render_template(template, {}, None)
    assert reason in info.value.reason
