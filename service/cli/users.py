"""``precedent users`` and ``precedent tokens``: logins and API tokens (every change audited)."""

from __future__ import annotations

import getpass
from datetime import timedelta

import click

from kb import vocab
from kb.models import utcnow
from service.cli.common import echo_json, fail, store_session
from service.directory import users as users_service
from service.platform.serializers import iso


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _run(use_case, **kwargs):
    """Call a use case on the configured store; a refusal is one line naming the field (exit 2)."""
    with store_session() as session:
        try:
            return use_case(session, **kwargs)
        except users_service.UserError as exc:
            fail(f"{exc.field}: {exc}")


@click.group()
def users() -> None:
    """Manage logins."""


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@click.option("--client", "client_id", type=int, help="Client id (client users only).")
@click.option("--email", default=None, help="Its e-mail address (a client user gets status and comment mail there).")
@click.option("--client-manager", is_flag=True,
              help="A client user who is its company's manager: reads the company's infrastructure audit.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create(username: str, role: str, client_id: int | None, email: str | None, client_manager: bool,
           password: str) -> None:
    """Create a login."""
    user = _run(users_service.register_user, username=username, password=password, role=role,
                client_id=client_id, email=email, client_manager=client_manager, actor=_actor())
    click.echo(f"created user {user.id} ({role})")


@users.command("set-email")
@click.argument("username")
@click.argument("email")
def set_email(username: str, email: str) -> None:
    """Set USERNAME's e-mail address (an empty EMAIL removes it)."""
    user = _run(users_service.set_email, username=username, email=email, actor=_actor())
    click.echo(f"e-mail of {username}: {user.email or 'none'}")


@users.command("list")
def list_users() -> None:
    """Print every login (never a password or a token)."""
    rows = _run(users_service.list_users)
    echo_json({"items": [{"id": u.id, "username": u.username, "role": u.role, "client_id": u.client_id,
                          "client_manager": u.client_manager, "active": u.active, "email": u.email} for u in rows]})


@users.command("token")
@click.argument("username")
@click.option("--name", default=None, help="A label for the token.")
def token(username: str, name: str | None) -> None:
    """Issue a read-write API token for USERNAME and print it (it is stored only as a hash)."""
    issued = _run(users_service.new_api_token, username=username, name=name, actor=_actor())
    echo_json({"username": username, "token": issued})


@users.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password(username: str, password: str) -> None:
    """Set USERNAME's password; its browser sessions end everywhere (API tokens stay valid)."""
    _run(users_service.change_password, username=username, password=password, actor=_actor())
    click.echo(f"password of {username} changed; its sessions are ended")


# the first name of the command, kept for scripts that call it
users.add_command(set_password, name="password")


@users.command("set-role")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(vocab.ROLES))
@click.option("--client", "client_id", type=int, help="Client id (client users only).")
@click.option("--client-manager", is_flag=True,
              help="The client user is its company's manager (without it: a plain client user).")
def set_role(username: str, role: str, client_id: int | None, client_manager: bool) -> None:
    """Give USERNAME another role; its browser sessions end."""
    _run(users_service.set_role, username=username, role=role, client_id=client_id, client_manager=client_manager,
         actor=_actor())
    click.echo(f"{username} is now {role}{' (client manager)' if client_manager else ''}")


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable USERNAME: its sessions end and its API tokens are revoked."""
    revoked = _run(users_service.disable_user, username=username, actor=_actor())
    click.echo(f"{username} disabled; {revoked} token(s) revoked")


@click.group()
def tokens() -> None:
    """Manage API tokens: scopes (read, write, intake), expiry, revocation."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default=None, help="A label for the token.")
@click.option("--scopes", default="read,write", show_default=True,
              help=f"Comma-separated scopes: {', '.join(vocab.TOKEN_SCOPES)}.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Days until it expires.")
def create_token(username: str, name: str | None, scopes: str, expires_days: int | None) -> None:
    """Issue a token for USERNAME and print it once (it is stored only as a hash)."""
    chosen = tuple(s.strip() for s in scopes.split(",") if s.strip())
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    issued = _run(users_service.new_api_token, username=username, name=name, scopes=chosen,
                  expires_at=expires_at, actor=_actor())
    echo_json({"username": username, "token": issued, "scopes": list(chosen), "expires_at": iso(expires_at)})


@tokens.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
def list_tokens(username: str | None) -> None:
    """Print tokens (never their secret): owner, name, scopes, expiry, last use, revocation."""
    rows = _run(users_service.list_tokens, username=username)
    echo_json({"items": [{"id": t.id, "username": t.user.username, "name": t.name, "scopes": t.scopes,
                          "created_at": iso(t.created_at), "expires_at": iso(t.expires_at),
                          "last_used_at": iso(t.last_used_at), "revoked_at": iso(t.revoked_at)} for t in rows]})


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke the token TOKEN_ID (see `precedent tokens list`): from now on it gets 401."""
    row = _run(users_service.revoke_token, token_id=token_id, actor=_actor())
    click.echo(f"token {row.id} of {row.user.username} revoked")
