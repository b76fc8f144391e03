"""One JSON log line per request with a request id, returned as X-Request-Id; no secret in the line."""

from __future__ import annotations

import json
import logging


def lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "precedent.requests"]


def test_each_request_gets_an_id_and_one_json_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="precedent.requests"):
        first = client.get("/api/v1/tickets?limit=5")
        second = client.get("/api/v1/tickets/999")
    ids = [first.headers["X-Request-Id"], second.headers["X-Request-Id"]]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    logged = lines(caplog)
    assert [(entry["request_id"], entry["status"], entry["route"]) for entry in logged] == [
        (ids[0], 200, "/api/v1/tickets"), (ids[1], 404, "/api/v1/tickets/<int:ticket_id>")]
    assert logged[0]["query"] == "limit=5" and logged[0]["user_id"] is not None and logged[0]["ms"] >= 0


def test_a_plausible_incoming_id_is_kept_and_a_hostile_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-Id": "proxy-4f2a9c11"})
    assert kept.headers["X-Request-Id"] == "proxy-4f2a9c11"
    hostile = "<script>" + "x" * 100
    replaced = client.get("/healthz", headers={"X-Request-Id": hostile})
    assert replaced.headers["X-Request-Id"] != hostile and len(replaced.headers["X-Request-Id"]) == 32


def test_refused_requests_are_logged_and_secrets_redacted(anonymous_client, caplog):
    with caplog.at_level(logging.INFO, logger="precedent.requests"):
        response = anonymous_client.post("/api/v1/webhooks/alertmanager?token=s3cret-value", json={})
    entry = lines(caplog)[-1]
    assert entry["status"] == response.status_code and entry["request_id"] == response.headers["X-Request-Id"]
    assert "s3cret-value" not in json.dumps(entry) and "token=[redacted]" in entry["query"]
