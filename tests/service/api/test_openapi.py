"""The generated document covers every operation with its parameters, bodies, responses and roles, and the
same models check the input with the API's error contract."""

from __future__ import annotations

import re

import pytest

from service.platform.permissions import ROLE_ACTIONS
from service.platform.schema import contract_of

OWN = {"openapi.document", "openapi.docs", "openapi.docs_asset"}


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and rule.endpoint not in OWN:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_operation_is_described_with_its_roles(app, anonymous_client):
    document = anonymous_client.get("/api/v1/openapi.json").json
    for rule, method in api_rules(app):
        view = app.view_functions[rule.endpoint]
        assert contract_of(view) is not None, f"{method} {rule.rule} declares no @operation"
        operation = document["paths"][re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)][method.lower()]
        assert operation["summary"] and "4XX" in operation["responses"], rule.rule
        action = getattr(view, "precedent_action", None)
        if action is not None:
            assert operation["x-action"] == action and operation["x-roles"] == list(ROLE_ACTIONS[action])
        else:
            assert operation["x-roles"], rule.rule
        if method in ("POST", "PATCH") and rule.endpoint != "webhooks.alertmanager":
            assert "requestBody" in operation or rule.endpoint == "billing.stop_work", rule.rule
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "field"}


def test_query_parameters_and_bodies_are_in_the_document(anonymous_client):
    paths = anonymous_client.get("/api/v1/openapi.json").json["paths"]
    search = {p["name"]: p for p in paths["/api/v1/search"]["get"]["parameters"]}
    assert search["q"]["required"] and search["k"]["schema"]["maximum"] == 50
    listing = {p["name"]: p["schema"] for p in paths["/api/v1/tickets"]["get"]["parameters"]}
    assert "highest" in listing["priority"]["enum"] and listing["limit"]["maximum"] == 500
    body = paths["/api/v1/triage"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/TriageBody"}
    assert paths["/api/v1/tickets"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/TicketDetail"}


@pytest.mark.parametrize(("body", "status", "code", "field", "message"), [
    ({"subjetc": "x"}, 422, "unknown_field", "subjetc", "unknown field 'subjetc'"),
    ({}, 422, "invalid_field", "subject", "subject is required"),
    ({"subject": 5}, 422, "invalid_field", "subject", "subject must be a string"),
    ({"subject": "x", "client_id": "7"}, 422, "invalid_field", "client_id", "client_id must be an integer"),
    ({"subject": "x", "channel": "fax"}, 422, "invalid_field", "channel", "channel must be one of phone, email"),
    ({"subject": "x", "node_ids": [1, "a"]}, 422, "invalid_field", "node_ids", "node_ids must be a list of integers"),
    ({"subject": "x" * 501}, 422, "invalid_field", "subject", "subject must have at most 500 characters"),
])
def test_the_body_model_checks_the_input(client, body, status, code, field, message):
    error = client.post("/api/v1/triage", json=body)
    assert error.status_code == status
    assert error.json["error"]["code"] == code and error.json["error"]["field"] == field
    assert error.json["error"]["message"].startswith(message), error.json


@pytest.mark.parametrize(("query", "field", "message"), [
    ({"limit": "x"}, "limit", "limit must be an integer, got 'x'"),
    ({"limit": "0"}, "limit", "limit must be between 1 and 500"),
    ({"priority": "urgent"}, "priority", "priority must be one of low, standard, high, highest"),
])
def test_the_query_model_checks_the_parameters(client, query, field, message):
    error = client.get("/api/v1/tickets", query_string=query)
    assert error.status_code == 400
    assert error.json["error"] == {"code": "bad_request", "field": field, "message": message}
