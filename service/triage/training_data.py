"""Training rows for the triage models, built from the store: the service side of ``precedent train``.

``ml.training`` learns from plain rows (:class:`ml.training.LabelledTickets`: signals, the two labels and
a weight per row) and knows nothing of the store.  This module reads the store and the workflow's audit
trail and builds those rows.

Labels are the values the tickets carry now, i.e. after engineers confirmed or changed them.  A ticket
whose group or priority an engineer changed is a correction of the model and weighs
``ml.training.CORRECTION_WEIGHT`` times more.  A change is either

- an audit event of the workflow that names the field as ``{"priority": {"from": old, "to": new}}``
  (the ``triage`` step and ``update``, i.e. ``change_priority``, write them); the creation event
  (``create``: the model's own values) and a first value set where there was none are not corrections;
- or a stored ``TriagePrediction`` that differs from the final value.

Suggestion feedback (useful / not useful) concerns retrieved incidents and articles; it is used by
search, not by these classifiers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.models import AuditEvent, Client, Ticket, TriagePrediction
from ml.training import CORRECTION_WEIGHT, LabelledTickets, signals_for

#: The ticket fields a triage model predicts, as the workflow's audit events name them.
PREDICTED_FIELDS = ("group", "priority")
#: The audit action that records the values a ticket was created with (not a correction).
CREATE_ACTION = "create"


def changed_fields(action: str, data: Any) -> set[str]:
    """The predicted fields an engineer changed from one value to another, per one audit event.

    The workflow writes ``{"group": {"from": old, "to": new}}``; the creation event and a first value
    set where there was none are not corrections.
    """
    if action == CREATE_ACTION or not isinstance(data, dict):
        return set()
    found = set()
    for name in PREDICTED_FIELDS:
        change = data.get(name)
        if isinstance(change, dict) and change.get("from") is not None and change.get("from") != change.get("to"):
            found.add(name)
    return found


def corrected_fields(session: Session) -> dict[int, set[str]]:
    """ticket id -> the predicted fields an engineer changed, per the audit trail."""
    corrected: dict[int, set[str]] = {}
    for entity_id, action, data in session.execute(
            select(AuditEvent.entity_id, AuditEvent.action, AuditEvent.data).where(AuditEvent.entity == "ticket")):
        if changed := changed_fields(action, data):
            corrected.setdefault(entity_id, set()).update(changed)
    return corrected


def stored_predictions(session: Session) -> dict[int, tuple[str | None, str | None]]:
    """ticket id -> (group, priority) that triage predicted at creation."""
    return {ticket_id: (group, priority) for ticket_id, group, priority in session.execute(
        select(TriagePrediction.ticket_id, TriagePrediction.group, TriagePrediction.priority))}


def tickets_from_store(session: Session, *, created_after: datetime | None = None) -> LabelledTickets:
    """Every triaged ticket of the store (created after ``created_after``, if given) with its final
    group/priority and correction weights, in id order."""
    tiers = dict(session.execute(select(Client.id, Client.sla_policy)).all())
    corrected = corrected_fields(session)
    predictions = stored_predictions(session)
    out = LabelledTickets()
    query = select(Ticket).where(Ticket.status != "new").options(selectinload(Ticket.nodes)).order_by(Ticket.id)
    if created_after is not None:
        query = query.where(Ticket.created_at > created_after)
    for ticket in session.scalars(query):
        fields = corrected.get(ticket.id, set())
        predicted_group, predicted_priority = predictions.get(ticket.id, (None, None))
        group_fixed = "group" in fields or (predicted_group is not None and predicted_group != ticket.group)
        priority_fixed = "priority" in fields or (
            predicted_priority is not None and predicted_priority != ticket.priority)
        out.append(
            signals_for(subject=ticket.subject, description=ticket.description, channel=ticket.channel,
                        tier=tiers.get(ticket.client_id), nodes=ticket.nodes, alert_severity=ticket.alert_severity),
            group=ticket.group, priority=ticket.priority,
            group_weight=CORRECTION_WEIGHT if group_fixed else 1.0,
            priority_weight=CORRECTION_WEIGHT if priority_fixed else 1.0)
    return out
