"""Partner companies as data: registered with validated targets and calendar, listed, found by region."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from kb.models import AuditEvent, Partner, Specialist
from service.cli import main
from service.directory.partners import PartnerError, create_partner, list_partners, partners_serving


def test_a_partner_is_stored_with_its_terms_and_engineers(db_session):
    partner = create_partner(db_session, name="ООО «Сибирь-Сервис»", regions=["Новосибирск", " Томск ", "Томск"],
                             contract_ref="П-2026/07", reaction_hours="1.5", onsite_hours=6, resolution_hours=16,
                             hourly_rate="1250.5", calendar="8x5", timezone="Asia/Novosibirsk", actor="test")
    db_session.add(Specialist(name="Алексей Кузнецов", region="Новосибирск", partner="ООО «Сибирь-Сервис»",
                              partner_id=partner.id))
    db_session.commit()
    db_session.expunge_all()
    stored = db_session.get(Partner, partner.id)
    assert stored.regions == ["Новосибирск", "Томск"]
    assert (stored.reaction_hours, stored.onsite_hours, stored.resolution_hours) == (1.5, 6.0, 16.0)
    assert stored.hourly_rate == Decimal("1250.50")
    engineer = db_session.query(Specialist).one()
    assert (engineer.partner_id, engineer.partner) == (partner.id, "ООО «Сибирь-Сервис»")
    assert [p.name for p in partners_serving(db_session, "томск")] == ["ООО «Сибирь-Сервис»"]
    assert partners_serving(db_session, "Омск") == [] and partners_serving(db_session, None) == []
    assert db_session.query(AuditEvent).filter_by(entity="partner").one().action == "create"


BAD = [
    ({"name": " "}, "name"),
    ({"regions": []}, "regions"),
    ({"reaction_hours": "soon"}, "reaction_hours"),
    ({"resolution_hours": 0}, "resolution_hours"),
    ({"reaction_hours": 10, "onsite_hours": 4}, "onsite_hours"),
    ({"hourly_rate": "-1"}, "hourly_rate"),
    ({"hourly_rate": "NaN"}, "hourly_rate"),
    ({"calendar": "9x9"}, "calendar"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"country": "XX"}, "country"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_terms_are_refused_naming_the_field(db_session, change, field):
    given = {"name": "Партнёр", "regions": ["Омск"], **change}
    with pytest.raises(PartnerError) as refused:
        create_partner(db_session, actor="test", **given)
    assert refused.value.field == field
    assert list_partners(db_session) == []


def test_a_name_is_taken_once(db_session):
    create_partner(db_session, name="Урал-ИТ", regions=["Екатеринбург"], actor="test")
    with pytest.raises(PartnerError, match="exists already"):
        create_partner(db_session, name="урал-ит", regions=["Пермь"], actor="test")


def test_cli_creates_and_lists_partners(sqlite_url, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    make_session_factory(make_engine(sqlite_url))().close()
    runner = CliRunner()
    made = runner.invoke(main, ["partners", "create", "ООО «Сибирь-Сервис»", "--region", "Новосибирск",
                                "--contract", "П-7", "--hourly-rate", "1200", "--timezone", "Asia/Novosibirsk"])
    assert made.exit_code == 0, made.output
    listed = json.loads(runner.invoke(main, ["partners", "list"]).output)
    assert [(p["name"], p["regions"], p["hourly_rate"], p["targets_hours"]["onsite"]) for p in listed] == [
        ("ООО «Сибирь-Сервис»", ["Новосибирск"], "1200.00", 8.0)]
    refused = runner.invoke(main, ["partners", "create", "Другой", "--region", "Омск", "--calendar", "9x9"])
    assert refused.exit_code == 2 and "calendar" in refused.output


def test_a_partner_login_is_made_for_its_own_engineer_only(sqlite_url, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    session = make_session_factory(make_engine(sqlite_url))()
    partner = create_partner(session, name="Сибирь-Сервис", regions=["Томск"], actor="test")
    other = create_partner(session, name="Урал-ИТ", regions=["Пермь"], actor="test")
    stranger = Specialist(name="Чужой", partner_id=other.id)
    session.add(stranger)
    session.commit()
    runner = CliRunner()
    refused = runner.invoke(main, ["partners", "add-login", str(partner.id), "p-sib", "--specialist",
                                   str(stranger.id), "--password", "demo-password"])
    assert refused.exit_code == 2 and "specialist" in refused.output
    made = runner.invoke(main, ["partners", "add-login", str(partner.id), "p-sib", "--password", "demo-password"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["role"] == "partner_engineer"
    from service.directory.users import UserError, set_role

    with pytest.raises(UserError):
        set_role(session, username="p-sib", role="partner_engineer")
    session.close()
