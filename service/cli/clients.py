"""``precedent clients``: the contacts and mail domains a client registered (what e-mail intake trusts)."""

from __future__ import annotations

import getpass

import click
from sqlalchemy import select

from kb.models import Client, ClientContact
from service.cli.common import echo_json, fail, store_session
from service.directory import contacts


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def clients() -> None:
    """Client contacts and mail domains."""


@clients.command("contacts")
@click.argument("client_id", type=int)
def list_contacts(client_id: int) -> None:
    """Print the client's registered mail domains and contacts."""
    with store_session() as session:
        client = session.get(Client, client_id) if 0 < client_id < 2**31 else None
        if client is None:
            fail(f"client: client {client_id} not found")
        rows = session.scalars(select(ClientContact).where(ClientContact.client_id == client_id)
                               .order_by(ClientContact.email))
        echo_json({"client_id": client_id, "name": client.name, "email": client.email,
                   "email_domains": list(client.email_domains or []),
                   "contacts": [{"email": c.email, "name": c.name} for c in rows]})


@clients.command("add-contact")
@click.argument("client_id", type=int)
@click.argument("email")
@click.option("--name", default=None, help="The person's name.")
def add_contact(client_id: int, email: str, name: str | None) -> None:
    """Register EMAIL as a contact of CLIENT_ID: its messages become the client's tickets."""
    with store_session() as session:
        try:
            contact = contacts.add_contact(session, client_id=client_id, email=email, name=name, actor=_actor())
        except contacts.ContactError as exc:
            fail(f"{exc.field}: {exc}")
        echo_json({"client_id": contact.client_id, "email": contact.email, "name": contact.name})


@clients.command("remove-contact")
@click.argument("email")
def remove_contact(email: str) -> None:
    """Forget a registered contact address."""
    with store_session() as session:
        try:
            contacts.remove_contact(session, email=email, actor=_actor())
        except contacts.ContactError as exc:
            fail(f"{exc.field}: {exc}")
        echo_json({"removed": email.strip().lower()})


@clients.command("domains")
@click.argument("client_id", type=int)
@click.argument("domains", nargs=-1)
def set_domains(client_id: int, domains: tuple[str, ...]) -> None:
    """Set the mail domains of CLIENT_ID (none given: clear them)."""
    with store_session() as session:
        try:
            saved = contacts.set_mail_domains(session, client_id=client_id, domains=list(domains), actor=_actor())
        except contacts.ContactError as exc:
            fail(f"{exc.field}: {exc}")
        echo_json({"client_id": client_id, "email_domains": saved})
