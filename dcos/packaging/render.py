"""Options and templates: the defaults of a package's config schema, the user's options merged
over them, their validation (every failing path), and the rendering of marathon.json.mustache
into a webapp app or group definition.

Called by: the index builder and source validator (render each package with its defaults), and
the package service (describe --render, render, install, update). No I/O.

Rendering context (Cosmos' order): the merged options, plus `resource` (resource.json, with the
asset URIs the caller chooses: the service passes URIs agents can fetch). Two differences from
Mustache as Cosmos ran it, both so that templates always produce JSON:
- booleans render as `true` / `false` (not Python's `True`), and still work as sections;
- string values are JSON-escaped, with `"`, `&`, `<`, `>` as `\\u` escapes: a value placed
  inside a JSON string comes out exactly as given, whether written `{{x}}` or `{{{x}}}` (Mustache's
  HTML escaping finds nothing left to escape), and cannot break the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import chevron
import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError

Json = dict[str, Any]
DefinitionKind = Literal["app", "group"]


class RenderError(Exception):
    """A template that cannot be rendered into an app or group definition; `reason` says why
    (mustache syntax, invalid JSON with line and column, wrong shape)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, order=True)
class OptionError:
    """One failing option: `path` is a JSON pointer into the options (`/service/instances`, ""
    for the root; a missing required property is named by its own path), `message` the rule.
    `report`: the same failure in the shape of Cosmos' validator reports (`keyword`, `found`,
    `expected`, `unwanted`, `missing`, `minimum`, ... and `instance.pointer`, the object that
    failed), which the DC/OS CLI prints; it takes no part in equality or order."""

    path: str
    message: str
    report: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


# --- defaults and merging --------------------------------------------------------------------


def merge_defaults(schema: Mapping[str, Any] | None) -> Json:
    """The options a package gets when the user gives none: each property's `default`, and for
    an object property without a default, the defaults of its own properties (an object, empty
    when none of them has one). As Cosmos: a property's own `default` wins over nested ones."""
    if not schema:
        return {}
    return _defaults_of(schema.get("properties"))


def _defaults_of(properties: Any) -> Json:
    out: Json = {}
    if not isinstance(properties, Mapping):
        return out
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        if "default" in prop:
            out[name] = _copy(prop["default"])
        elif isinstance(prop.get("properties"), Mapping):
            out[name] = _defaults_of(prop["properties"])
    return out


def merge_options(schema: Mapping[str, Any] | None, user_options: Mapping[str, Any] | None) -> Json:
    """The schema's defaults with the user's options deep-merged over them (objects merge key by
    key; any other value, arrays included, replaces the default). Called before validation."""
    return deep_merge(merge_defaults(schema), user_options or {})


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> Json:
    """A new dict: `over` merged into `base` recursively (neither argument is changed)."""
    out: Json = {k: _copy(v) for k, v in base.items()}
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _copy(value)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- validation ------------------------------------------------------------------------------


def check_schema(schema: Mapping[str, Any]) -> None:
    """Raise `RenderError` when `schema` is not a valid JSON Schema (its `$schema` draft, Draft 7
    when it names none). Called by the source validator on each config.json."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = json_pointer(exc.absolute_path)
        raise RenderError(f"config schema is invalid at '{where}': {exc.message}") from exc


def validate_options(schema: Mapping[str, Any] | None, options: Mapping[str, Any]) -> list[OptionError]:
    """Every way `options` (already merged over the defaults) breaks `schema`, sorted by path; []
    when valid or when the package has no schema. Raises `RenderError` when the schema itself is
    invalid (a package fault, not the user's)."""
    if not schema:
        return []
    check_schema(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = {_option_error(e) for e in leaf_errors(validator.iter_errors(options))}
    return sorted(errors)


def leaf_errors(errors: Any) -> list[ValidationError]:
    """The errors themselves, with an `anyOf`/`oneOf` failure replaced by its sub-errors when it
    has any (they name the deeper paths)."""
    out: list[ValidationError] = []
    for error in errors:
        if error.validator in ("anyOf", "oneOf", "allOf") and error.context:
            out.extend(leaf_errors(error.context))
        else:
            out.append(error)
    return out


def _option_error(error: ValidationError) -> OptionError:
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [
            p for p in (error.validator_value or [])
            if p not in error.instance and repr(p) in error.message
        ]
        if missing:
            path.append(missing[0])
    return OptionError(path=json_pointer(path), message=error.message, report=_report(error))


_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (Mapping, "object"), (type(None), "null"))


def _json_type(value: Any) -> str:
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def _report(error: ValidationError) -> Json:
    """The fields a Cosmos (json-schema-validator) report carried for this failure: the keyword,
    the failing instance's pointer, and per keyword what was found and what the schema wants."""
    keyword, want, value = str(error.validator), error.validator_value, error.instance
    report: Json = {"keyword": keyword, "domain": "validation",
                    "instance": {"pointer": json_pointer(error.absolute_path)},
                    "schema": {"loadingURI": "#",
                               "pointer": json_pointer(list(error.absolute_schema_path)[:-1])}}
    if keyword == "type":
        report["found"] = _json_type(value)
        report["expected"] = [want] if isinstance(want, str) else list(want)
    elif keyword == "additionalProperties" and isinstance(value, Mapping):
        known = set((error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else ())
        report["unwanted"] = sorted(k for k in value if k not in known)
    elif keyword == "required" and isinstance(value, Mapping):
        report["required"] = list(want or [])
        report["missing"] = [k for k in want or [] if k not in value]
    elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                     "minLength", "maxLength", "minItems", "maxItems"):
        report[keyword] = want
        report["found"] = value
    elif keyword == "enum":
        report["enum"] = list(want)
        report["value"] = value
    elif keyword == "pattern":
        report["regex"] = want
        report["string"] = value
    return report


def json_pointer(parts: Any) -> str:
    """A JSON pointer ("" for the root) of a jsonschema path."""
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


# --- rendering -------------------------------------------------------------------------------


class _JsonBool:
    """A boolean that renders as JSON (`true`/`false`) and still acts as a Mustache section."""

    _CHEVRON_return_scope_when_falsy = True

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"


def _context_value(value: Any) -> Any:
    if isinstance(value, bool):
        return _JsonBool(value)
    if isinstance(value, str):
        return _json_string_body(value)
    if isinstance(value, Mapping):
        return {k: _context_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_context_value(v) for v in value]
    return value


_HTML_SENSITIVE = {'"': "\\u0022", "&": "\\u0026", "<": "\\u003c", ">": "\\u003e"}


def _json_string_body(value: str) -> str:
    """`value` as the inside of a JSON string literal, HTML-sensitive characters as \\u escapes."""
    body = json.dumps(value, ensure_ascii=False)[1:-1].replace('\\"', '"')
    for char, escape in _HTML_SENSITIVE.items():
        body = body.replace(char, escape)
    return body


def render_template(
    template_text: str, options: Mapping[str, Any], resource: Mapping[str, Any] | None,
) -> Json:
    """Render marathon.json.mustache with `options` (merged, validated) and `resource` (resource
    JSON with the asset URIs to use) as `{{resource...}}`; returns the app or group definition.
    Raises `RenderError` when the template is not valid Mustache, the result is not JSON, or it
    is neither an app nor a group (see `definition_kind`)."""
    context = _context_value(dict(options))
    context["resource"] = _context_value(dict(resource or {}))
    try:
        text = chevron.render(template_text, context)
    except Exception as exc:  # chevron raises ChevronError, and IndexError/KeyError on bad tags
        raise RenderError(f"template is not valid Mustache: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(
            f"rendered template is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            " of the rendered text"
            f" (near {_near(text, exc.pos)!r})"
        ) from exc
    if not isinstance(doc, dict):
        raise RenderError(f"rendered template is a JSON {type(doc).__name__}, not an object")
    definition_kind(doc)
    return doc


def definition_kind(doc: Mapping[str, Any]) -> DefinitionKind:
    """"group" when the definition has `apps` or `groups`, "app" when it has an `id` and neither;
    `RenderError` otherwise. The package service creates a group with PUT/POST /v2/groups and an
    app with POST /v2/apps on this answer."""
    if "apps" in doc or "groups" in doc:
        return "group"
    if isinstance(doc.get("id"), str) and doc["id"]:
        return "app"
    raise RenderError("rendered template is neither an app (needs a string id) nor a group"
                      " (needs apps or groups)")


_SPACE = re.compile(r"\s+")


def _near(text: str, pos: int) -> str:
    return _SPACE.sub(" ", text[max(0, pos - 30):pos + 30])
