"""Dispatch: on-site work in a client's regional office proposes the partner engineer serving that region."""

from __future__ import annotations

from datetime import UTC, datetime

from kb.models import Client, Node, Partner, Skill, Specialist
from service.config import load_settings
from service.triage.service import triage_request

NOW = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # Tuesday 12:00 in Novosibirsk, 08:00 in Moscow


def test_on_site_work_in_a_region_goes_to_the_partner_serving_it(db_session, tmp_path, monkeypatch):
    monkeypatch.setenv("PRECEDENT_TRIAGE_USE_SEARCH", "0")
    partner = Partner(name="ООО «Сибирь-Сервис»", regions=["Новосибирск", "Томск"], contract_ref="П-1")
    db_session.add(partner)
    db_session.flush()
    ours = Specialist(name="Анна Московская", region="Москва", skills=[Skill(group="printers", level=4)])
    field = Specialist(name="Пётр Сибирский", region="Новосибирск", partner_id=partner.id,
                       timezone="Asia/Novosibirsk")
    client = Client(name="АО Вектор", region="Москва")
    db_session.add_all([ours, field, client])
    db_session.flush()
    office_printer = Node(client_id=client.id, kind="printer", name="tomsk-mfu", region="Томск")
    main_printer = Node(client_id=client.id, kind="printer", name="msk-mfu")
    db_session.add_all([office_printer, main_printer])
    db_session.commit()
    settings = load_settings(var_dir=tmp_path)

    regional = triage_request(db_session, subject="Не печатает принтер", client_id=client.id,
                              node_ids=[office_printer.id], settings=settings, now=NOW)
    first = regional.specialists[0]
    assert first.name == "Пётр Сибирский"
    assert {"serves region Томск", "can be on site", "regional partner ООО «Сибирь-Сервис»"} <= set(first.reasons)

    at_main_office = triage_request(db_session, subject="Не печатает принтер", client_id=client.id,
                                    node_ids=[main_printer.id], settings=settings, now=NOW)
    assert [s.name for s in at_main_office.specialists] == ["Анна Московская"]
