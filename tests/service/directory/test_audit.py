"""The infrastructure audit: single points of failure, critical nodes without monitoring or a backup, recurring
incidents with their known problems, mean time to restore per node kind, and the plan for each critical node's
failure -- pure over plain data, then over a small real store, the API and the printable page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.db import make_engine, make_session_factory
from kb.models import Article, Client, KnownProblem, Node, Ticket
from service.directory.audit import (
    AuditRules,
    IncidentFacts,
    NodeFacts,
    audit_report,
    client_audit,
    dependents,
)
from tests.service.signed_in import api_client_for, signed_in

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def node(id, name, kind="server", criticality="medium", monitored=True, depends_on=(), backup=None, runbook=None):
    return NodeFacts(id=id, name=name, kind=kind, criticality=criticality, monitored=monitored,
                     depends_on=tuple(depends_on), backup_node_id=backup, runbook=runbook)


def incident(ticket_id, node_ids, hours_ago, restore_hours=None, problems=()):
    created = NOW - timedelta(hours=hours_ago)
    resolved = created + timedelta(hours=restore_hours) if restore_hours is not None else None
    return IncidentFacts(ticket_id=ticket_id, subject=f"Инцидент {ticket_id}", node_ids=tuple(node_ids),
                         created_at=created, resolved_at=resolved, known_problems=tuple(problems))


#: An office: a core switch everything hangs on, a domain controller with a standby, 1C on a server.
OFFICE = [
    node(1, "sw-core", "network_device", "critical", monitored=False),
    node(2, "dc1", "server", "critical", depends_on=[1], backup=3, runbook=(7, "Отказ контроллера домена")),
    node(3, "dc2", "server", "high", depends_on=[1]),
    node(4, "srv-1c", "server", "critical", depends_on=[2]),
    node(5, "ws-01", "workstation", "low", depends_on=[2, 4]),
    node(6, "ws-02", "workstation", "low", depends_on=[2, 4]),
    node(7, "prn-01", "printer", "low", depends_on=[1]),
]


def test_dependents_are_transitive_and_a_cycle_ends():
    fallout = dependents(OFFICE)
    assert fallout[1] == {2, 3, 4, 5, 6, 7}
    assert fallout[2] == {4, 5, 6} and fallout[5] == set()
    cycle = dependents([node(1, "a", depends_on=[2]), node(2, "b", depends_on=[1])])
    assert cycle == {1: {2}, 2: {1}}


def test_a_planted_single_point_of_failure_is_found_and_a_backed_up_node_is_not():
    report = audit_report(OFFICE, [], now=NOW)
    spof = {f["name"]: f for f in report["single_points_of_failure"]}
    # sw-core: six nodes stop with it and nothing takes over; dc1 has dc2 as standby; srv-1c has two dependents.
    assert list(spof) == ["sw-core"]
    assert spof["sw-core"]["dependents"] == 6 and spof["sw-core"]["monitored"] is False
    assert "srv-1c" in spof["sw-core"]["dependent_names"]
    lower = audit_report(OFFICE, [], now=NOW, rules=AuditRules(spof_dependents=2))
    assert [f["name"] for f in lower["single_points_of_failure"]] == ["sw-core", "srv-1c"]


def test_critical_nodes_without_monitoring_or_a_backup_are_shown():
    gaps = {g["name"]: g for g in audit_report(OFFICE, [], now=NOW)["critical_gaps"]}
    assert gaps["sw-core"] == {**gaps["sw-core"], "unmonitored": True, "no_backup": True}
    assert gaps["srv-1c"]["unmonitored"] is False and gaps["srv-1c"]["no_backup"] is True
    assert "dc1" not in gaps  # monitored, with a standby
    summary = audit_report(OFFICE, [], now=NOW)["summary"]
    assert summary["critical_unmonitored"] == 1 and summary["critical_without_backup"] == 2


def test_every_critical_node_gets_a_plan_or_a_visible_gap():
    plans = audit_report(OFFICE, [], now=NOW)["failure_plans"]
    assert [(p["name"], p["gap"]) for p in plans] == [("sw-core", True), ("srv-1c", True), ("dc1", False)]
    dc1 = plans[-1]
    assert dc1["runbook"] == {"id": 7, "title": "Отказ контроллера домена"} and dc1["backup"]["name"] == "dc2"


def test_recurring_incidents_carry_their_known_problems_and_old_ones_do_not_count():
    history = [incident(1, [4], 24 * 5, 3, problems=[(9, "Блокировки в базе 1С")]),
               incident(2, [4], 24 * 30, 5),
               incident(3, [4], 24 * 90, 4, problems=[(9, "Блокировки в базе 1С")]),
               incident(4, [7], 24 * 2, 1), incident(5, [7], 24 * 3, 1),
               incident(6, [7], 24 * 400, 1)]  # outside the 365-day window
    report = audit_report(OFFICE, history, now=NOW)
    recurring = report["recurring_incidents"]
    assert [(r["name"], r["incidents"]) for r in recurring] == [("srv-1c", 3)]
    assert recurring[0]["known_problems"] == [{"id": 9, "title": "Блокировки в базе 1С"}]
    assert recurring[0]["recent_subjects"][0] == "Инцидент 1"
    assert report["summary"]["incidents"] == 5


def test_mean_time_to_restore_per_node_kind_from_resolved_incidents():
    history = [incident(1, [4], 100, 2), incident(2, [2, 4], 90, 6),  # two servers, one incident: counted once
               incident(3, [5], 80, 1), incident(4, [6], 70, 3),
               incident(5, [7], 60)]  # unresolved: not a restore time
    rows = {r["kind"]: r for r in audit_report(OFFICE, history, now=NOW)["restore_times"]}
    assert rows["server"] == {"kind": "server", "incidents": 2, "mean_hours": 4.0, "median_hours": 4.0,
                              "max_hours": 6.0}
    assert rows["workstation"]["incidents"] == 2 and rows["workstation"]["mean_hours"] == 2.0
    assert "printer" not in rows
    assert list(rows) == ["server", "workstation"]  # slowest first


# --- a small real store ------------------------------------------------------------------------------------------


def plant_office(session) -> tuple[int, int]:
    """A client whose router carries everything, an unmonitored critical 1C server, and another client."""
    client, other = Client(name="ООО Ромашка"), Client(name="АО Вектор")
    session.add_all([client, other])
    session.flush()
    runbook = Article(title="Отказ маршрутизатора: переключение на резервный канал", body="1. …")
    session.add(runbook)
    router = Node(client_id=client.id, kind="network_device", name="gw-main", criticality="critical", monitored=True)
    server = Node(client_id=client.id, kind="1c_base", name="1c-buh", criticality="critical", monitored=False,
                  depends_on=[router])
    workstations = [Node(client_id=client.id, kind="workstation", name=f"ws-{n}", depends_on=[router, server])
                    for n in range(3)]
    session.add_all([router, server, *workstations,
                     Node(client_id=other.id, kind="server", name="vec-dc1", criticality="critical")])
    session.flush()
    router.runbook_article_id = runbook.id
    problem = KnownProblem(title="Зависание сервера лицензий 1С", symptoms="1С не запускается")
    for days in (3, 20, 50):
        created = datetime.now(UTC) - timedelta(days=days)
        ticket = Ticket(client_id=client.id, subject=f"1С не открывается ({days})", type="incident",
                        created_at=created, resolved_at=created + timedelta(hours=days % 7 + 1), nodes=[server])
        session.add(ticket)
        problem.incidents.append(ticket)
    session.add(problem)
    session.commit()
    return client.id, other.id


def test_the_audit_of_a_real_store_finds_the_planted_risks(db_session):
    client_id, _ = plant_office(db_session)
    report = client_audit(db_session, client_id=client_id, now=datetime.now(UTC))
    assert report["client"]["name"] == "ООО Ромашка" and report["summary"]["nodes"] == 5
    assert [(f["name"], f["dependents"]) for f in report["single_points_of_failure"]] == [("gw-main", 4),
                                                                                        ("1c-buh", 3)]
    unmonitored = [g["name"] for g in report["critical_gaps"] if g["unmonitored"]]
    assert unmonitored == ["1c-buh"]
    recurring = report["recurring_incidents"]
    assert recurring[0]["name"] == "1c-buh" and recurring[0]["incidents"] == 3
    assert recurring[0]["known_problems"][0]["title"] == "Зависание сервера лицензий 1С"
    assert report["restore_times"] == [{"kind": "1c_base", "incidents": 3, "mean_hours": 4.3, "median_hours": 4.0,
                                        "max_hours": 7.0}]
    plans = {p["name"]: p for p in report["failure_plans"]}
    assert plans["1c-buh"]["gap"] is True
    assert plans["gw-main"]["runbook"]["title"].startswith("Отказ маршрутизатора")
    assert "vec-dc1" not in str(report)


# --- API and page: staff, the client's own users, and nobody else ------------------------------------------------


@pytest.fixture
def office(app):
    with make_session_factory(make_engine(app.config["DATABASE_URL"]))() as session:
        return plant_office(session)




def test_the_api_answers_staff_and_the_clients_manager_only(app, office, client_for_role, client_user_client,
                                                             anonymous_client):
    ours, theirs = office
    for role in ("engineer_l1", "manager", "analyst", "admin"):
        response = client_for_role(role).get(f"/api/v1/clients/{ours}/audit")
        assert response.status_code == 200 and response.get_json()["summary"]["single_points_of_failure"] == 2
    own = api_client_for(app, "client", ours, client_manager=True)
    assert own.get(f"/api/v1/clients/{ours}/audit").status_code == 200
    plain = client_user_client(ours)  # of the company, but not its manager
    refused = plain.get(f"/api/v1/clients/{ours}/audit")
    assert refused.status_code == 403 and "client's manager" in refused.get_json()["error"]["message"]
    for caller in (own, plain):  # another company's audit, or none: as if it did not exist
        for missing in (theirs, 999_999):
            response = caller.get(f"/api/v1/clients/{missing}/audit")
            assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert client_for_role("manager").get("/api/v1/clients/999999/audit").status_code == 404
    assert anonymous_client.get(f"/api/v1/clients/{ours}/audit").status_code == 401


def test_the_printable_page_in_both_languages_and_walled(app, office):
    ours, theirs = office
    web = signed_in(app, "manager")
    page = web.get(f"/clients/{ours}/audit", query_string={"lang": "ru"}).get_data(as_text=True)
    assert "Единые точки отказа" in page and "gw-main" in page
    assert "пробел: инструкции нет" in page and "Зависание сервера лицензий 1С" in page
    english = web.get(f"/clients/{ours}/audit", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Single points of failure" in english and "gap: no runbook" in english and "1C database" in english
    client_web = signed_in(app, "client", client_id=ours, client_manager=True)
    assert client_web.get(f"/clients/{ours}/audit").status_code == 200
    assert client_web.get(f"/clients/{theirs}/audit").status_code == 404
    plain_web = signed_in(app, "client", client_id=ours)
    assert plain_web.get(f"/clients/{ours}/audit").status_code == 403
    assert plain_web.get(f"/clients/{theirs}/audit").status_code == 404
    assert app.test_client().get(f"/clients/{ours}/audit").status_code == 302  # to the login page


def test_the_demo_gets_an_audit_worth_reading(sqlite_url):
    """Every demo client has single points of failure; some critical nodes are unmonitored, some have a
    runbook and a cluster backup, and the rest show as gaps."""
    from data.demo import build_demo
    from data.demo.resilience import UNMONITORED

    with make_session_factory(make_engine(sqlite_url))() as session:
        build_demo(session, tickets=300, users=False, contracts=False)
        reports = [client_audit(session, client_id=client.id, now=datetime(2026, 11, 25, tzinfo=UTC))
                   for client in session.query(Client).order_by(Client.id)]
    assert len(reports) == 6
    assert all(report["single_points_of_failure"] for report in reports)
    unmonitored = {g["name"] for r in reports for g in r["critical_gaps"] if g["unmonitored"]}
    assert unmonitored == set(UNMONITORED)
    plans = [p for r in reports for p in r["failure_plans"]]
    assert any(p["runbook"] for p in plans) and any(p["gap"] for p in plans)
    assert any(p["backup"] for p in plans)
    assert all(r["restore_times"] for r in reports) and any(r["recurring_incidents"] for r in reports)
    # Shared storage under a cluster stays a single point of failure; the clustered hosts are not.
    cluster = next(r for r in reports if r["client"]["name"] == "АО «УралТоргСервис»")
    names = [f["name"] for f in cluster["single_points_of_failure"]]
    assert names[0] == "UTS-NAS01" and "UTS-HV01" not in names
