"""Monitoring against the real webhook: unmatched alerts are kept and listed, "link to node" teaches the mapping,
a resolved alert optionally resolves its incident, and bad payloads are refused naming the field."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from kb.models import Node, Ticket, UnmatchedAlert
from tests.service.signed_in import browser_for as staff_browser
from tests.service.signed_in import csrf
from tests.service.tickets.test_alertmanager import AUTH, URL, notification
from tests.service.tickets.test_api import act


def test_an_unknown_node_is_kept_listed_linked_and_learnt(app, anonymous_client, app_world, app_session):
    unknown = notification(fingerprint="f00d", instance="db-new-07.romashka.local:9100")
    first = anonymous_client.post(URL, json=unknown, headers=AUTH)
    assert first.status_code == 200 and first.json["unmatched"] == 1
    assert anonymous_client.post(URL, json=unknown, headers=AUTH).json["results"][0]["outcome"] == "unmatched"
    [row] = app_session.scalars(select(UnmatchedAlert)).all()
    assert (row.repeats, row.alert_status, row.alertname) == (2, "firing", "NodeDown")

    browser = staff_browser(app, app_session)
    page = browser.get("/alerts/unmatched").get_data(as_text=True)
    assert "NodeDown" in page and "db-new-07.romashka.local" in page and "Привязать к узлу" in page
    response = browser.post(f"/alerts/unmatched/{row.id}/link",
                            data={"node_id": str(app_world.server_id), "csrf": csrf(page)})
    assert response.status_code == 302
    app_session.expire_all()
    row = app_session.get(UnmatchedAlert, row.id)
    incident = app_session.get(Ticket, row.ticket_id)
    assert (row.node_id, incident.channel, incident.alert_fingerprint) == (app_world.server_id, "monitoring", "f00d")
    assert "db-new-07.romashka.local:9100" in app_session.get(Node, app_world.server_id).attributes["alert_names"]
    assert "db-new-07" not in browser.get("/alerts/unmatched").get_data(as_text=True)  # no longer listed
    # learnt: the next alert with that label goes straight to the node
    again = anonymous_client.post(URL, json=notification(fingerprint="beef", instance="db-new-07.romashka.local:9100"),
                                  headers=AUTH).json["results"][0]
    assert (again["outcome"], again["node_id"]) == ("created", app_world.server_id)
    assert browser.post(f"/alerts/unmatched/{row.id}/link", data={"node_id": str(app_world.server_id),
                                                                  "csrf": csrf(page)}).status_code == 404


def test_linking_needs_a_real_node_and_a_writer(app, anonymous_client, app_world, app_session):
    anonymous_client.post(URL, json=notification(fingerprint="abcd", instance="ghost:9100"), headers=AUTH)
    row = app_session.scalar(select(UnmatchedAlert))
    browser = staff_browser(app, app_session)
    page = browser.get("/alerts/unmatched").get_data(as_text=True)
    bad = browser.post(f"/alerts/unmatched/{row.id}/link", data={"node_id": "999999", "csrf": csrf(page)},
                       follow_redirects=True)
    assert "Выберите существующий узел" in bad.get_data(as_text=True)
    analyst = staff_browser(app, app_session, "analyst")
    analyst_page = analyst.get("/alerts/unmatched").get_data(as_text=True)
    assert analyst.post(f"/alerts/unmatched/{row.id}/link", data={"node_id": str(app_world.server_id),
                                                                  "csrf": csrf(analyst_page)}).status_code == 403
    app_session.expire_all()
    assert app_session.get(UnmatchedAlert, row.id).node_id is None


@pytest.mark.parametrize(("resolve_incidents", "worked_on", "outcome", "status"), [
    (False, True, "commented", "in_progress"),
    (True, True, "resolved", "resolved"),
    (True, False, "commented", "new"),  # a "new" incident cannot be resolved before anyone took it
])
def test_a_resolved_alert_optionally_resolves_its_incident(app, client, anonymous_client, app_world,
                                                           resolve_incidents, worked_on, outcome, status):
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], alertmanager_resolve_incidents=resolve_incidents)
    created = anonymous_client.post(URL, json=notification(), headers=AUTH).json["results"][0]
    if worked_on:
        assert act(client, created["ticket_id"], "triage", group="servers").status_code == 200
        assert act(client, created["ticket_id"], "take").status_code == 200
    resolved = anonymous_client.post(URL, json=notification("resolved"), headers=AUTH)
    assert resolved.json["results"][0]["outcome"] == outcome
    ticket = client.get(f"/api/v1/tickets/{created['ticket_id']}").json
    assert ticket["status"] == status
    if outcome == "resolved":
        assert "алерт снят" in ticket["resolution"]


def _broken(mutate):
    body = copy.deepcopy(notification())
    mutate(body)
    return body


@pytest.mark.parametrize(("body", "field"), [
    (_broken(lambda b: b.update(version="3")), "version"),
    (_broken(lambda b: b.update(alerts={"a": 1})), "alerts"),
    (_broken(lambda b: b["alerts"][0].pop("fingerprint")), "alerts[0].fingerprint"),
    (_broken(lambda b: b["alerts"][0].update(startsAt="yesterday")), "alerts[0].startsAt"),
    (_broken(lambda b: b["alerts"][0].update(labels={"instance": 5})), "alerts[0].labels"),
    (_broken(lambda b: b["alerts"][0].update(status="pending")), "alerts[0].status"),
    ([1, 2, 3], "payload"),
])
def test_bad_payloads_are_refused_naming_the_field_and_store_nothing(anonymous_client, app_world, app_session,
                                                                     body, field):
    response = anonymous_client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 400 and response.json["error"]["field"] == field
    assert app_session.scalar(select(func.count()).select_from(UnmatchedAlert)) == 0
    assert app_session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_no_secret_no_entry(anonymous_client, app_world):
    assert anonymous_client.post(URL, json=notification()).status_code == 401
    assert anonymous_client.post(URL, data="not json", headers={**AUTH, "Content-Type": "text/plain"}).status_code == 415
    assert anonymous_client.post(URL, data="{", headers={**AUTH, "Content-Type": "application/json"}).status_code == 400
