"""The monthly partner report on a small real store: tasks, its SLA, minutes, what we owe, remote vs on site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from kb.models import Assignment, Client, Partner, Specialist, Ticket, TimeEntry
from service.sla.partner_report import PartnerReportError, build_partner_report

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def seed(session) -> int:
    """A 24x7 partner (2/8/24 h, 1250.50 an hour) serving Новосибирск, a client there, four tickets."""
    partner = Partner(name="ООО «Сибирь-Сервис»", regions=["Новосибирск"], contract_ref="П-7", reaction_hours=2,
                      onsite_hours=8, resolution_hours=24, hourly_rate=Decimal("1250.50"), calendar="24x7",
                      timezone="Asia/Novosibirsk")
    session.add(partner)
    session.flush()
    engineer = Specialist(name="Пётр Сибирский", partner_id=partner.id, region="Новосибирск")
    ours = Specialist(name="Анна Московская", region="Москва")
    client = Client(name="АО Вектор", region="Новосибирск")
    session.add_all([engineer, ours, client])
    session.flush()

    def ticket(assigned: datetime | None, who: Specialist, entries, resolved_after: float | None):
        row = Ticket(client_id=client.id, subject="Выезд", status="resolved" if resolved_after else "in_progress",
                     created_at=(assigned or NOW) - HOUR,
                     resolved_at=assigned + resolved_after * HOUR if resolved_after else None)
        session.add(row)
        session.flush()
        if assigned:
            session.add(Assignment(ticket_id=row.id, specialist_id=who.id, assigned_at=assigned))
        for after, minutes, on_site in entries:
            session.add(TimeEntry(ticket_id=row.id, specialist_id=who.id, started_at=assigned + after * HOUR,
                                  minutes=minutes, on_site=on_site))
        return row

    first = datetime(2026, 11, 10, tzinfo=UTC)
    # reacted in 1 h (met), on site after 10 h (breached), resolved in 20 h (met); 150 minutes
    ticket(first, engineer, [(1, 60, False), (10, 90, True)], 20)
    # reacted and on site in 1.5 h (met), not resolved at NOW: overdue; 30 minutes
    ticket(first + 48 * HOUR, engineer, [(1.5, 30, True)], None)
    # assigned in October: not this month's task
    ticket(datetime(2026, 10, 30, tzinfo=UTC), engineer, [(1, 600, True)], None)
    # solved remotely by our own engineer in the partner's region this month
    ticket(first + 72 * HOUR, ours, [(1, 20, False)], 2)
    session.commit()
    return partner.id


def test_the_report_counts_the_partners_month(db_session):
    partner_id = seed(db_session)
    report = build_partner_report(db_session, partner_id=partner_id, month="2026-11", now=NOW)
    assert report["tasks"] == 2
    assert report["sla"]["reaction"] == {"met": 2, "breached": 0, "running": 0, "overdue": 0, "not_needed": 0}
    assert report["sla"]["onsite"] == {"met": 1, "breached": 1, "running": 0, "overdue": 0, "not_needed": 0}
    assert report["sla"]["resolution"] == {"met": 1, "breached": 0, "running": 0, "overdue": 1, "not_needed": 0}
    assert report["minutes"] == 180
    assert report["owed"] == "3751.50"  # 3 h × 1250.50
    assert report["remote_vs_on_site"] == [
        {"client": "АО Вектор", "region": "Новосибирск", "remote": 1, "on_site": 1, "remote_share": 0.5}]


@pytest.mark.parametrize(("partner_id", "month", "field"), [(99, "2026-11", "partner"), (1, "2026-13", "month"),
                                                           (1, "ноябрь", "month")])
def test_bad_requests_name_the_field(db_session, partner_id, month, field):
    seed(db_session)
    with pytest.raises(PartnerReportError) as refused:
        build_partner_report(db_session, partner_id=partner_id, month=month, now=NOW)
    assert refused.value.field == field


def test_api_and_cli(app, client_for_role, monkeypatch):
    session = make_session_factory(make_engine(app.config["DATABASE_URL"]))()
    partner_id = seed(session)
    session.close()
    manager = client_for_role("manager")
    answer = manager.get(f"/api/v1/partners/{partner_id}/report/2026-11")
    assert answer.status_code == 200 and answer.get_json()["tasks"] == 2
    assert manager.get(f"/api/v1/partners/{partner_id}/report/2026-13").get_json()["error"]["field"] == "month"
    assert manager.get("/api/v1/partners/77/report/2026-11").status_code == 404
    assert client_for_role("engineer_l2").get(f"/api/v1/partners/{partner_id}/report/2026-11").status_code == 403
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", app.config["DATABASE_URL"])
    from service.cli import main

    printed = CliRunner().invoke(main, ["partners", "report", str(partner_id), "2026-11"])
    assert printed.exit_code == 0 and '"owed": "3751.50"' in printed.output
