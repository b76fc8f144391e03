"""``precedent users``: logins and API tokens."""

from __future__ import annotations

import click
from sqlalchemy import select

from kb import vocab
from kb.db import make_engine, make_session_factory, transaction
from kb.models import User
from service.cli.common import echo_json, fail, settings
from service.platform.auth import create_user, issue_token, set_password


def _sessions():
    return make_session_factory(make_engine(settings().resolved_database_url))


@click.group()
def users() -> None:
    """Manage users and API tokens."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@click.option("--client", "client_id", type=int, help="Client id (client users only).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create(username: str, role: str, client_id: int | None, password: str) -> None:
    """Create a login."""
    try:
        with transaction(_sessions()) as session:
            if session.scalar(select(User).where(User.username == username)):
                fail(f"username: {username!r} already exists")
            user = create_user(session, username=username, password=password, role=role, client_id=client_id)
            session.flush()
            click.echo(f"created user {user.id} ({role})")
    except ValueError as exc:
        fail(str(exc))


@users.command("token")
@click.argument("username")
@click.option("--name", default=None, help="A label for the token.")
def token(username: str, name: str | None) -> None:
    """Issue an API token for USERNAME and print it (it is stored only as a hash)."""
    with transaction(_sessions()) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            fail(f"username: no user {username!r}")
        echo_json({"username": username, "token": issue_token(session, user=user, name=name)})


@users.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def password(username: str, password: str) -> None:
    """Set USERNAME's password; its browser sessions end everywhere (API tokens stay valid)."""
    with transaction(_sessions()) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            fail(f"username: no user {username!r}")
        try:
            set_password(user, password)
        except ValueError as exc:
            fail(f"password: {exc}")
        click.echo(f"password of {username} changed; its sessions are ended")
