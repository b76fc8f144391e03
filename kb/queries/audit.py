"""Audit trail: every change is recorded with who, when and what."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import AuditEvent


def record(session: Session, *, entity: str, entity_id: int, action: str, actor: str, **data: object) -> AuditEvent:
    """Add an audit event (no commit); ``data`` must be JSON-serialisable."""
    event = AuditEvent(entity=entity, entity_id=entity_id, action=action, actor=actor, data=dict(data))
    session.add(event)
    return event


def history(session: Session, *, entity: str, entity_id: int) -> list[AuditEvent]:
    """The events of one object, oldest first."""
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ))
