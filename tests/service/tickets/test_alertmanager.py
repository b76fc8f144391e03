"""Alertmanager webhook: real version-4 payloads, node matching, de-duplication by fingerprint, secret."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from service.tickets.alertmanager import label_candidates

URL = "/api/v1/webhooks/alertmanager"
AUTH = {"Authorization": "Bearer s3cret"}


def notification(status="firing", *, fingerprint="1a30ba71cca2921f", instance="10.0.0.5:9100",
                 severity="critical", alert_status=None):
    """An Alertmanager webhook body as Alertmanager 0.27 sends it."""
    labels = {"alertname": "NodeDown", "instance": instance, "job": "node", "severity": severity}
    return {
        "receiver": "precedent",
        "status": status,
        "alerts": [{
            "status": alert_status or status,
            "labels": labels,
            "annotations": {"summary": "Сервер не отвечает", "description": f"{instance} down for 5m"},
            "startsAt": "2026-11-23T07:00:26.739266876Z",
            "endsAt": "2026-11-23T08:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0",
            "fingerprint": fingerprint,
        }],
        "groupLabels": {"alertname": "NodeDown"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "Сервер не отвечает"},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"NodeDown\"}",
        "truncatedAlerts": 0,
    }


def post(anonymous_client, body, headers=AUTH):
    return anonymous_client.post(URL, json=body, headers=headers)


def test_firing_creates_an_incident_then_deduplicates_and_resolves(anonymous_client, client, app_world):
    first = post(anonymous_client, notification())
    assert first.status_code == 200, first.json
    result = first.json["results"][0]
    assert (result["outcome"], result["node_id"]) == ("created", app_world.server_id)
    ticket = client.get(f"/api/v1/tickets/{result['ticket_id']}").json
    assert ticket["channel"] == "monitoring" and ticket["client_id"] == app_world.client_id
    assert ticket["priority"] == "highest"  # critical alert on a critical node
    assert ticket["nodes"][0]["name"] == "srv-1c"

    again = post(anonymous_client, notification())
    assert again.json["results"][0] == {**again.json["results"][0], "outcome": "commented",
                                        "ticket_id": result["ticket_id"]}
    resolved = post(anonymous_client, notification("resolved"))
    assert resolved.json["results"][0]["outcome"] == "commented"
    detail = client.get(f"/api/v1/tickets/{result['ticket_id']}").json
    assert len(detail["comments"]) == 2
    assert "resolved" in detail["comments"][1]["body"]
    assert client.get("/api/v1/tickets").json["total"] == 1

    # once the incident is resolved, the same fingerprint firing again is a new incident
    for action, params in [("triage", {"group": "servers"}), ("take", {}), ("resolve", {"resolution": "Перезагружен"})]:
        assert client.post(f"/api/v1/tickets/{result['ticket_id']}/actions",
                           json={"action": action, **params}).status_code == 200
    new = post(anonymous_client, notification())
    assert new.json["results"][0]["outcome"] == "created"
    assert new.json["results"][0]["ticket_id"] != result["ticket_id"]


def test_two_alerts_with_one_fingerprint_in_one_notification_make_one_ticket(anonymous_client, app_world):
    body = notification()
    body["alerts"].append(copy.deepcopy(body["alerts"][0]))
    report = post(anonymous_client, body).json
    assert [r["outcome"] for r in report["results"]] == ["created", "commented"]


@pytest.mark.parametrize(("instance", "outcome"), [
    ("srv-1c", "created"), ("SRV-1C.romashka.local:9182", "created"), ("https://srv-1c.romashka.local/health",
                                                                       "created"),
    ("10.0.0.99:9100", "unmatched"),
])
def test_node_matching(anonymous_client, app_world, instance, outcome):
    report = post(anonymous_client, notification(instance=instance, fingerprint=f"fp-{instance}")).json
    assert report["results"][0]["outcome"] == outcome


def test_resolved_without_open_ticket_is_ignored(anonymous_client, app_world):
    assert post(anonymous_client, notification("resolved")).json["results"][0]["outcome"] == "ignored"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b.update(status="burning"), "status"),
    (lambda b: b.update(alerts={}), "alerts"),
    (lambda b: b["alerts"][0].pop("fingerprint"), "alerts[0].fingerprint"),
    (lambda b: b["alerts"][0].update(labels={"instance": 5}), "alerts[0].labels"),
    (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
    (lambda b: b["alerts"][0].update(status="pending"), "alerts[0].status"),
])
def test_bad_payload_is_400_naming_the_field(anonymous_client, client, app_world, mutate, field):
    body = notification()
    mutate(body)
    response = post(anonymous_client, body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    assert client.get("/api/v1/tickets").json["total"] == 0


def test_secret_is_required(app, anonymous_client, app_world):
    assert post(anonymous_client, notification(), headers={}).status_code == 401
    assert post(anonymous_client, notification(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert anonymous_client.post(URL + "?token=s3cret", json=notification()).status_code == 200
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], alertmanager_token="")
    assert post(anonymous_client, notification()).status_code == 503


def test_label_candidates():
    assert label_candidates("Srv-1C.romashka.local:9100") == ["srv-1c.romashka.local:9100", "srv-1c.romashka.local",
                                                              "srv-1c"]
    assert label_candidates("10.0.0.5:9100") == ["10.0.0.5:9100", "10.0.0.5"]
    assert label_candidates("[::1]:9100")[0] == "[::1]:9100"


def test_ingest_on_both_backends(db_session, world, flow_settings):
    from service.tickets.alertmanager import ingest_alertmanager

    body = notification(instance="srv-1c.romashka.local:9100")
    first = ingest_alertmanager(db_session, payload=body, settings=flow_settings)
    second = ingest_alertmanager(db_session, payload=body, settings=flow_settings)
    assert (first["created"], second["commented"]) == (1, 1)
    assert first["results"][0]["ticket_id"] == second["results"][0]["ticket_id"]
