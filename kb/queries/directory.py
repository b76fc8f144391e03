"""Clients, their infrastructure nodes, and specialists."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.models import Client, Node, Specialist


def list_clients(session: Session, *, client_id: int | None = None) -> list[Client]:
    """All clients by name (or just one, for a client user)."""
    query = select(Client).order_by(Client.name)
    if client_id is not None:
        query = query.where(Client.id == client_id)
    return list(session.scalars(query))


def get_client(session: Session, *, client_id: int) -> Client | None:
    return session.get(Client, client_id)


def list_nodes(session: Session, *, client_id: int, kind: str | None = None) -> list[Node]:
    """A client's infrastructure nodes with their dependencies loaded."""
    query = select(Node).where(Node.client_id == client_id).options(selectinload(Node.depends_on))
    if kind is not None:
        query = query.where(Node.kind == kind)
    return list(session.scalars(query.order_by(Node.kind, Node.name)))


def get_nodes(session: Session, *, node_ids: list[int]) -> list[Node]:
    """The nodes with the given ids (missing ids are simply absent from the result)."""
    if not node_ids:
        return []
    return list(session.scalars(select(Node).where(Node.id.in_(node_ids))))


def list_specialists(session: Session, *, active_only: bool = True) -> list[Specialist]:
    """Specialists with their skills and absences loaded."""
    query = select(Specialist).options(selectinload(Specialist.skills), selectinload(Specialist.absences))
    if active_only:
        query = query.where(Specialist.active.is_(True))
    return list(session.scalars(query.order_by(Specialist.line, Specialist.name)))
