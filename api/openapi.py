"""The API definition as OpenAPI 3.0, which the OGC oas30 conformance class and older GIS clients expect.

FastAPI writes OpenAPI 3.1 (JSON Schema 2020-12); the few constructs that differ are rewritten here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.access import routes, rule_of


def _downgrade(node: Any) -> Any:
    if isinstance(node, list):
        return [_downgrade(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _downgrade(value) for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            node.pop(key)
            if len(rest) == 1:
                node.update(rest[0] if "$ref" not in rest[0] else {"allOf": [rest[0]]})
            else:
                node[key] = rest
            node["nullable"] = True
    if node.get("type") == "string" and "contentMediaType" in node:  # an uploaded file: 3.0 says format binary
        node.pop("contentMediaType")
        node["format"] = "binary"
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list) and "type" in node:
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    for bound, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node.get(bound), bool):
            node[flag] = node.pop(bound)
            node[bound] = True
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        if len(types) < len(node["type"]):
            node["nullable"] = True
        node["type"] = types[0] if len(types) == 1 else types
    node.pop("$schema", None)
    return node


#: The one body every 4xx carries (api/errors.py): what went wrong and what to do about it.
PROBLEM = {
    "type": "object",
    "required": ["code", "description"],
    "properties": {
        "code": {"type": "string", "description": "the kind of problem, e.g. InvalidParameterValue"},
        "description": {"type": "string", "description": "what is wrong and how to fix it"},
        "detail": {"type": "string", "description": "the same text, where FastAPI clients look for it"},
    },
}
_PROBLEM_RESPONSE = {
    "description": "请求未被接受，正文说明原因 (refused: the body says what to fix)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Every operation answers a client error with a Problem: validation errors are 400 here (OGC API), not 422,
    and sign-in, permission, unknown id, conflict, size and rate errors share the one shape."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = _PROBLEM_RESPONSE
    return spec


def _document_access(app: FastAPI, spec: dict[str, Any]) -> dict[str, Any]:
    """Each operation's access rule (api/access.py) as `x-access`, so a client sees who may call it."""
    for route in routes(app.routes):
        rule = rule_of(route)
        item = spec.get("paths", {}).get(getattr(route, "path", None), {})
        for method in getattr(route, "methods", None) or ():
            operation = item.get(method.lower())
            if operation is not None and rule is not None:
                operation["x-access"] = rule.value
    return spec


def openapi_30(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document in version 3.0.3, built once and cached on the app."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        spec = _document_access(app, _document_errors(_downgrade(spec)))
        spec["openapi"] = "3.0.3"
        app.openapi_schema = spec
    return app.openapi_schema
