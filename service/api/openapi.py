"""``/api/v1/openapi.json``, made from the routes and the models they declare, and the docs page
``/api/v1/docs`` (Swagger UI served from the files that the flask-swagger-ui package ships: no CDN)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, send_from_directory
from pydantic import BaseModel

from service.api import schemas
from service.platform.auth import public
from service.platform.permissions import ROLE_ACTIONS, STAFF
from service.platform.schema import Contract, contract_of

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_REF = "#/components/schemas/{model}"
#: Routes of this module: not operations of the API, so not in its document.
_OWN_ENDPOINTS = ("openapi.document", "openapi.docs", "openapi.docs_asset")


def _swagger_dist() -> Path:
    import flask_swagger_ui

    return Path(flask_swagger_ui.__file__).parent / "dist"


class _Components:
    """The schemas the document refers to, collected as operations name them."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict[str, str]:
        schema = model.model_json_schema(ref_template=_REF, mode=mode)
        for name, definition in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, definition)
        self.schemas.setdefault(model.__name__, schema)
        return {"$ref": _REF.format(model=model.__name__)}


def _roles(view) -> dict[str, Any]:
    """The role × action table for one operation: ``x-action`` and ``x-roles``."""
    action = getattr(view, "precedent_action", None)
    if action is not None:
        return {"x-action": action, "x-roles": list(ROLE_ACTIONS[action])}
    if getattr(view, "precedent_public", False):
        return {"x-roles": ["anyone"]}
    return {"x-roles": [*STAFF, "client"]}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's ``| None`` branch (absent is how a query says None)."""
    branches = [b for b in schema.get("anyOf", ()) if b != {"type": "null"}]
    if len(branches) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **branches[0]}
    return {k: v for k, v in schema.items() if k not in ("title", "description") and v is not None}


def _parameters(rule, contract: Contract | None) -> list[dict]:
    parameters = [{"name": name, "in": "path", "required": True,
                   "schema": {"type": "integer"} if converter == "int" else {"type": "string"}}
                  for converter, name in _PATH_PARAM.findall(rule.rule)]
    if contract is not None and contract.query is not None:
        schema = contract.query.model_json_schema(ref_template=_REF)
        for name, prop in schema.get("properties", {}).items():
            parameter = {"name": name, "in": "query", "required": name in schema.get("required", ()),
                         "schema": _not_null(prop)}
            if prop.get("description"):
                parameter["description"] = prop["description"]
            parameters.append(parameter)
    return parameters


def _responses(contract: Contract | None, components: _Components) -> dict[str, Any]:
    declared = contract.responses if contract is not None else {200: None}
    responses: dict[str, Any] = {}
    for status, model in declared.items():
        answer: dict[str, Any] = {"description": "success" if status != 204 else "done, no content"}
        if status != 204:
            schema = components.ref(model, "serialization") if model is not None else {"type": "object"}
            answer["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = answer
    error = {"content": {"application/json": {"schema": components.ref(schemas.Error, "serialization")}}}
    responses["4XX"] = {"description": "refused: the error names the field and carries a stable code", **error}
    responses["503"] = {"description": "the database or the search index is unavailable", **error}
    return responses


def _operation(rule, method: str, view, components: _Components) -> dict[str, Any]:
    contract = contract_of(view)
    doc = (view.__doc__ or "").strip()
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "tags": [rule.endpoint.split(".")[0]],
        "summary": doc.splitlines()[0] if doc else rule.endpoint,
        "description": doc,
        **_roles(view),
        "responses": _responses(contract, components),
    }
    parameters = _parameters(rule, contract)
    if parameters:
        operation["parameters"] = parameters
    if contract is not None and contract.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": components.ref(contract.body)}}}
    elif method in ("POST", "PUT", "PATCH") and contract is not None and rule.endpoint.startswith("webhooks."):
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "the notification as Alertmanager sends it"}}}}
    if contract is not None and contract.deprecated:
        operation["deprecated"] = True
    if not getattr(view, "precedent_public", False):
        operation["security"] = [{"bearer": []}]
    return operation


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every ``/api/v1`` route of ``app``."""
    components = _Components()
    components.ref(schemas.Error, "serialization")
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1") or rule.endpoint in _OWN_ENDPOINTS:
            continue
        view = app.view_functions[rule.endpoint]
        path = _PATH_PARAM.sub(r"{\2}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, method, view, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Precedent API", "version": "1",
                 "description": "Errors are {\"error\": {\"code\", \"message\", \"field\"}}; x-roles lists the "
                                "roles that may call an operation (a client user only for its own company)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": dict(sorted(components.schemas.items()))},
        "paths": paths,
    }


@bp.get("/openapi.json")
@public
def document():
    """The OpenAPI 3.1 document: every operation with its parameters, bodies, responses and roles."""
    cached = current_app.extensions.get("precedent.openapi")
    if cached is None:
        cached = current_app.extensions["precedent.openapi"] = build_document(current_app)
    return jsonify(cached)


@bp.get("/docs")
@public
def docs():
    """Interactive documentation of the API (Swagger UI, from local files)."""
    return render_template("api/docs.html")


@bp.get("/docs/assets/<path:filename>")
@public
def docs_asset(filename: str):
    """Swagger UI's own files, as the installed package ships them."""
    return send_from_directory(_swagger_dist(), filename, max_age=3600)
