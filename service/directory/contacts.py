"""Who writes for a client: registered contacts and mail domains, the only evidence e-mail intake accepts."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.models import MAX_ID, Client, ClientContact
from kb.queries import audit
from service.platform.unit_of_work import unit_of_work

_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"(?=.{1,200}$)([a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")


class ContactError(ValueError):
    """A contact or domain cannot be registered; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _client(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id) if 0 < client_id <= MAX_ID else None
    if client is None:
        raise ContactError(f"client {client_id} not found", "client")
    return client


def add_contact(session: Session, *, client_id: int, email: str, name: str | None, actor: str) -> ClientContact:
    """Register ``email`` as a contact of the client (one address belongs to one client)."""
    with unit_of_work(session):
        client = _client(session, client_id)
        address = email.strip().lower()
        if not _ADDRESS.fullmatch(address) or len(address) > 200:
            raise ContactError(f"{email!r} is not an e-mail address", "email")
        taken = session.scalar(select(ClientContact).where(func.lower(ClientContact.email) == address))
        if taken is not None:
            raise ContactError(f"{address} is already a contact of client {taken.client_id}", "email")
        contact = ClientContact(client_id=client.id, email=address, name=(name or "").strip()[:200] or None)
        session.add(contact)
        session.flush()
        audit.record(session, entity="client", entity_id=client.id, action="contact_added", actor=actor,
                     email=address)
    return contact


def remove_contact(session: Session, *, email: str, actor: str) -> None:
    """Forget a registered contact address."""
    address = email.strip().lower()
    with unit_of_work(session):
        contact = session.scalar(select(ClientContact).where(func.lower(ClientContact.email) == address))
        if contact is None:
            raise ContactError(f"{address} is not a registered contact", "email")
        audit.record(session, entity="client", entity_id=contact.client_id, action="contact_removed",
                     actor=actor, email=address)
        session.delete(contact)


def set_mail_domains(session: Session, *, client_id: int, domains: list[str], actor: str) -> list[str]:
    """Replace the client's registered mail domains (a domain belongs to one client)."""
    wanted = list(dict.fromkeys(d.strip().lower().lstrip("@") for d in domains if d.strip()))
    with unit_of_work(session):
        client = _client(session, client_id)
        for domain in wanted:
            if not _DOMAIN.fullmatch(domain):
                raise ContactError(f"{domain!r} is not a mail domain such as example.ru", "domain")
            for other in session.scalars(select(Client).where(Client.id != client.id)):
                if domain in [str(d).lower() for d in other.email_domains or []]:
                    raise ContactError(f"{domain} is already registered for client {other.id}", "domain")
        audit.record(session, entity="client", entity_id=client.id, action="mail_domains", actor=actor,
                     **{"from": list(client.email_domains or []), "to": wanted})
        client.email_domains = wanted
    return wanted
