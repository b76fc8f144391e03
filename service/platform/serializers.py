"""Plain-dict views of stored objects for the JSON API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kb.models import Client, Ticket


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def ticket_summary(ticket: Ticket) -> dict:
    """The fields shown in ticket lists."""
    return {
        "id": ticket.id,
        "external_id": ticket.external_id,
        "client_id": ticket.client_id,
        "subject": ticket.subject,
        "type": ticket.type,
        "channel": ticket.channel,
        "priority": ticket.priority,
        "group": ticket.group,
        "status": ticket.status,
        "created_at": iso(ticket.created_at),
        "resolved_at": iso(ticket.resolved_at),
        "sla_state": ticket.sla_state,
    }


def ticket_detail(ticket: Ticket, *, internal: bool) -> dict:
    """A ticket with everything recorded on it; internal comments only when ``internal`` (staff)."""
    data = ticket_summary(ticket)
    data.update(
        {
            "requester_name": ticket.requester_name,
            "requester_email": ticket.requester_email,
            "description": ticket.description,
            "urgency": ticket.urgency,
            "resolution": ticket.resolution,
            "billing_mode": ticket.billing_mode,
            "estimate_hours": money(ticket.estimate_hours),
            "fixed_price": money(ticket.fixed_price),
            "updated_at": iso(ticket.updated_at),
            "reacted_at": iso(ticket.reacted_at),
            "work_started_at": iso(ticket.work_started_at),
            "closed_at": iso(ticket.closed_at),
            "reaction_due": iso(ticket.reaction_due),
            "work_start_due": iso(ticket.work_start_due),
            "resolution_due": iso(ticket.resolution_due),
            "nodes": [{"id": n.id, "name": n.name, "kind": n.kind} for n in ticket.nodes],
            "assignees": [
                {"specialist_id": a.specialist_id, "role": a.role, "assigned_at": iso(a.assigned_at)}
                for a in ticket.assignees
                if a.released_at is None
            ],
            "comments": [
                {"id": c.id, "author": c.author, "body": c.body, "public": c.public, "created_at": iso(c.created_at)}
                for c in ticket.comments
                if internal or c.public
            ],
            "time_entries": [
                {
                    "id": e.id,
                    "specialist_id": e.specialist_id,
                    "started_at": iso(e.started_at),
                    "minutes": e.minutes,
                    "on_site": e.on_site,
                    "off_hours_agreed": e.off_hours_agreed,
                    "work_kind": e.work_kind,
                    "note": e.note,
                }
                for e in ticket.time_entries
            ],
            "pauses": [
                {"started_at": iso(p.started_at), "ended_at": iso(p.ended_at), "reason": p.reason}
                for p in ticket.pauses
            ],
        }
    )
    return data


def client_summary(client: Client) -> dict:
    return {
        "id": client.id,
        "external_id": client.external_id,
        "name": client.name,
        "sla_policy": client.sla_policy,
        "calendar": client.calendar,
        "timezone": client.timezone,
        "country": client.country,
        "region": client.region,
    }
