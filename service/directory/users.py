"""Logins and API tokens: the use cases behind ``precedent users`` (each commits once)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import User
from service.platform.auth import create_user, issue_token, set_password
from service.platform.unit_of_work import unit_of_work


class UserError(ValueError):
    """A login cannot be created or changed; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}", "username")
    return user


def register_user(session: Session, *, username: str, password: str, role: str,
                  client_id: int | None = None) -> User:
    """Create a login (a client user names its client; staff do not)."""
    with unit_of_work(session):
        if session.scalar(select(User.id).where(User.username == username)):
            raise UserError(f"{username!r} already exists", "username")
        try:
            user = create_user(session, username=username, password=password, role=role, client_id=client_id)
        except ValueError as exc:
            raise UserError(str(exc), "password" if "password" in str(exc) else "role") from None
        session.flush()
    return user


def new_api_token(session: Session, *, username: str, name: str | None = None) -> str:
    """Issue an API token for ``username``; the token in clear, the only time it is visible."""
    with unit_of_work(session):
        token = issue_token(session, user=_user(session, username), name=name)
    return token


def change_password(session: Session, *, username: str, password: str) -> None:
    """Set a new password; the user's browser sessions end everywhere (API tokens stay valid)."""
    with unit_of_work(session):
        try:
            set_password(_user(session, username), password)
        except ValueError as exc:
            raise UserError(str(exc), "password") from None
