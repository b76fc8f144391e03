"""A small store for the partner engineer's pages: two partners, our partner's tickets in several states
(one per partner clock state), another partner's ticket, internal notes that must never show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kb.models import Assignment, Node, Partner, Specialist, utcnow
from service.platform.auth import create_user
from service.tickets import workflow
from tests.service.tickets.conftest import PATH_TO, action_params, build_world

PASSWORD = "correct horse battery"
OUR_PARTNER = "ООО Сибирь-Выезд"
OTHER_PARTNER = "ООО Урал-Выезд"
OTHER_ENGINEER = "Уральский Выездной"
INTERNAL_NOTE = "ВНУТРЕННЕЕ-только-для-нас"
OTHER_SUBJECT = "ЧУЖАЯ-заявка-Урала"


@dataclass
class PartnerDesk:
    partner_id: int
    engineer_id: int
    second_engineer_id: int
    other_engineer_id: int
    triaged_id: int      # reaction running: "take" is offered
    working_id: int      # reacted remotely, on site overdue
    resolved_id: int     # every target met
    other_id: int        # the other partner's ticket
    client_id: int


def _ticket(session, world, status: str, subject: str, *, node_id: int, now):
    ticket = workflow.create_ticket(session, actor="operator", client_id=world.client_id, subject=subject,
                                    description=f"{subject}: подробности от клиента", priority="high",
                                    group="workstations", node_ids=[node_id], requester_name="Пётр", now=now)
    for action in PATH_TO[status]:
        workflow.apply_action(session, ticket_id=ticket.id, action=action, actor="engineer", now=now,
                              **action_params(world, action))
    return ticket


def plant_partner_desk(session) -> PartnerDesk:
    """Our partner (24x7, 2 h reaction, 8 h on site, 24 h resolution) with two engineers and a login
    ``partner-sib``; its tickets: triaged 1 h ago, in progress for 10 h with remote work only, resolved in
    time; the other partner's ticket of another client."""
    world = build_world(session)
    now = utcnow().replace(microsecond=0)
    ours = Partner(name=OUR_PARTNER, regions=["Новосибирск"], calendar="24x7", timezone="Asia/Novosibirsk",
                   reaction_hours=2, onsite_hours=8, resolution_hours=24)
    theirs = Partner(name=OTHER_PARTNER, regions=["Пермь"], calendar="24x7", timezone="Asia/Yekaterinburg")
    session.add_all([ours, theirs])
    session.flush()
    engineer = Specialist(name="Сибирский Выездной", line=2, partner=OUR_PARTNER, partner_id=ours.id,
                          region="Новосибирск", timezone="Asia/Novosibirsk")
    second = Specialist(name="Томский Выездной", line=2, partner=OUR_PARTNER, partner_id=ours.id, region="Томск")
    other = Specialist(name=OTHER_ENGINEER, line=2, partner=OTHER_PARTNER, partner_id=theirs.id, region="Пермь")
    office = Node(client_id=world.client_id, kind="workstation", name="nsk-ws-07", region="Новосибирск",
                  attributes={"address": "Новосибирск, Красный пр., 1, оф. 12"})
    session.add_all([engineer, second, other, office])
    session.flush()
    create_user(session, username="partner-sib", password=PASSWORD, role="partner_engineer", partner_id=ours.id,
                specialist_id=engineer.id)
    session.commit()

    triaged = _ticket(session, world, "triaged", "Не включается компьютер в филиале", node_id=office.id,
                      now=now - timedelta(hours=2))
    workflow.add_comment(session, ticket_id=triaged.id, body=INTERNAL_NOTE, public=False, actor="operator")
    workflow.add_comment(session, ticket_id=triaged.id, body="Клиент ждёт выезда после обеда", actor="operator")
    working = _ticket(session, world, "in_progress", "Нет сети в новосибирском офисе", node_id=office.id,
                      now=now - timedelta(hours=11))
    resolved = _ticket(session, world, "new", "Заменить картридж в филиале", node_id=office.id,
                       now=now - timedelta(hours=30))
    other_ticket = workflow.create_ticket(session, actor="operator", client_id=world.other_client_id,
                                          subject=OTHER_SUBJECT, priority="standard", group="network",
                                          node_ids=[world.other_node_id], now=now - timedelta(hours=3))
    session.add_all([
        Assignment(ticket_id=triaged.id, specialist_id=engineer.id, assigned_at=now - timedelta(hours=1)),
        Assignment(ticket_id=working.id, specialist_id=second.id, assigned_at=now - timedelta(hours=10)),
        Assignment(ticket_id=resolved.id, specialist_id=engineer.id, assigned_at=now - timedelta(hours=29)),
        Assignment(ticket_id=other_ticket.id, specialist_id=other.id, assigned_at=now - timedelta(hours=2))])
    session.commit()
    workflow.add_time_entry(session, ticket_id=working.id, actor="operator", specialist_id=second.id,
                            started_at=now - timedelta(hours=9), minutes=40, note="Проверили коммутатор удалённо")
    workflow.add_time_entry(session, ticket_id=resolved.id, actor="operator", specialist_id=engineer.id,
                            started_at=now - timedelta(hours=28), minutes=60, on_site=True, note="Заменили картридж")
    for action in PATH_TO["resolved"]:
        workflow.apply_action(session, ticket_id=resolved.id, action=action, actor="engineer",
                              now=now - timedelta(hours=27), **action_params(world, action))
    return PartnerDesk(ours.id, engineer.id, second.id, other.id, triaged.id, working.id, resolved.id,
                       other_ticket.id, world.client_id)
