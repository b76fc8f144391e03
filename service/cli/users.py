"""``precedent users``: logins and API tokens."""

from __future__ import annotations

import click

from kb import vocab
from service.cli.common import echo_json, fail, store_session
from service.directory import users as users_service


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
    with store_session() as session:
        try:
            user = users_service.register_user(session, username=username, password=password, role=role,
                                               client_id=client_id)
        except users_service.UserError as exc:
            fail(f"{exc.field}: {exc}")
        click.echo(f"created user {user.id} ({role})")


@users.command("token")
@click.argument("username")
@click.option("--name", default=None, help="A label for the token.")
def token(username: str, name: str | None) -> None:
    """Issue an API token for USERNAME and print it (it is stored only as a hash)."""
    with store_session() as session:
        try:
            echo_json({"username": username, "token": users_service.new_api_token(session, username=username,
                                                                                  name=name)})
        except users_service.UserError as exc:
            fail(f"{exc.field}: {exc}")


@users.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def password(username: str, password: str) -> None:
    """Set USERNAME's password; its browser sessions end everywhere (API tokens stay valid)."""
    with store_session() as session:
        try:
            users_service.change_password(session, username=username, password=password)
        except users_service.UserError as exc:
            fail(f"{exc.field}: {exc}")
        click.echo(f"password of {username} changed; its sessions are ended")
