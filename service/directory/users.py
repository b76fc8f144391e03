"""Logins and API tokens: the use cases behind ``precedent users`` and ``precedent tokens``.

Each commits once and writes an audit event (entity ``user``) naming who did it; disabling a user ends its
browser sessions and revokes its tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb import vocab
from kb.models import ApiToken, User, utcnow
from kb.queries import audit
from service.platform.auth import create_user, issue_token, set_password
from service.platform.unit_of_work import unit_of_work
from service.platform.validation import FieldError, check_email


class UserError(ValueError):
    """A login or token cannot be created or changed; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user {username!r}", "username")
    return user


def _audit(session: Session, user: User, action: str, actor: str, **data: object) -> None:
    audit.record(session, entity="user", entity_id=user.id, action=action, actor=actor, **data)


def _email(value: str | None) -> str | None:
    """The address as stored (trimmed, lower-case), None for none; UserError when it is not an address."""
    text = (value or "").strip().lower()
    if len(text) > 200:
        raise UserError("the e-mail address must have at most 200 characters", "email")
    try:
        return check_email(text or None, "email")
    except FieldError as exc:
        raise UserError(str(exc), "email") from None


def _check_client_manager(role: str, client_manager: bool) -> None:
    if client_manager and role != "client":
        raise UserError("only a client user can be its company's manager", "client_manager")


def register_user(session: Session, *, username: str, password: str, role: str, client_id: int | None = None,
                  email: str | None = None, client_manager: bool = False, actor: str = "cli") -> User:
    """Create a login (a client user names its client; staff do not), optionally with its e-mail address (where
    a client user's status and comment mail goes); ``client_manager`` marks a client user as its company's
    manager (it reads the company's infrastructure audit)."""
    address = _email(email)
    _check_client_manager(role, client_manager)
    with unit_of_work(session):
        if session.scalar(select(User.id).where(User.username == username)):
            raise UserError(f"{username!r} already exists", "username")
        try:
            user = create_user(session, username=username, password=password, role=role, client_id=client_id)
        except ValueError as exc:
            raise UserError(str(exc), "password" if "password" in str(exc) else "role") from None
        user.email, user.client_manager = address, client_manager
        session.flush()
        _audit(session, user, "user_created", actor, role=role, client_id=client_id, email=address,
               client_manager=client_manager)
    return user


def set_email(session: Session, *, username: str, email: str | None, actor: str = "cli") -> User:
    """Give a login its e-mail address (empty: none); audited with the address before and after."""
    address = _email(email)
    with unit_of_work(session):
        user = _user(session, username)
        before = user.email
        user.email = address
        _audit(session, user, "email_changed", actor, **{"from": before, "to": address})
    return user


def set_language(session: Session, *, user_id: int, language: str, actor: str) -> bool:
    """Remember the language a user chose (pages and mail follow it); whether it changed (audited then)."""
    if language not in vocab.LANGUAGES:
        raise UserError(f"language must be one of {', '.join(vocab.LANGUAGES)}", "language")
    with unit_of_work(session):
        user = session.get(User, user_id)
        if user is None:
            raise UserError(f"no user {user_id}", "user_id")
        if user.language == language:
            return False
        _audit(session, user, "language_changed", actor, **{"from": user.language, "to": language})
        user.language = language
    return True


def list_users(session: Session) -> list[User]:
    """Every login, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def change_password(session: Session, *, username: str, password: str, actor: str = "cli") -> None:
    """Set a new password; the user's browser sessions end everywhere (API tokens stay valid)."""
    with unit_of_work(session):
        user = _user(session, username)
        try:
            set_password(user, password)
        except ValueError as exc:
            raise UserError(str(exc), "password") from None
        _audit(session, user, "password_changed", actor)


def set_role(session: Session, *, username: str, role: str, client_id: int | None = None,
             client_manager: bool = False, actor: str = "cli") -> User:
    """Give a user another role (a client user needs its client; ``client_manager`` makes it its company's
    manager, otherwise it is a plain client user); its sessions end, its tokens stay."""
    if role not in vocab.ROLES:
        raise UserError(f"role must be one of {', '.join(vocab.ROLES)}", "role")
    if (role == "client") != (client_id is not None):
        raise UserError("a client user needs --client, and only a client user may have one", "client")
    if role == "partner_engineer":
        raise UserError("a partner engineer's login is made with `precedent partners add-login`", "role")
    _check_client_manager(role, client_manager)
    with unit_of_work(session):
        user = _user(session, username)
        before = {"role": user.role, "client_id": user.client_id, "client_manager": user.client_manager}
        user.role, user.client_id, user.client_manager = role, client_id, client_manager
        user.session_version = (user.session_version or 0) + 1
        _audit(session, user, "role_changed", actor,
               **{"from": before, "to": {"role": role, "client_id": client_id, "client_manager": client_manager}})
    return user


def disable_user(session: Session, *, username: str, actor: str = "cli", now: datetime | None = None) -> int:
    """Disable a login: its sessions end and every token it has is revoked; the number of tokens revoked."""
    now = now or utcnow()
    with unit_of_work(session):
        user = _user(session, username)
        user.active = False
        user.session_version = (user.session_version or 0) + 1
        tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                             ApiToken.revoked_at.is_(None))))
        for token in tokens:
            token.revoked_at = now
        _audit(session, user, "user_disabled", actor, tokens_revoked=len(tokens))
    return len(tokens)


def new_api_token(session: Session, *, username: str, name: str | None = None,
                  scopes: tuple[str, ...] = ("read", "write"), expires_at: datetime | None = None,
                  actor: str = "cli") -> str:
    """Issue an API token for ``username``; the token in clear, the only time it is visible."""
    with unit_of_work(session):
        user = _user(session, username)
        if not user.active:
            raise UserError(f"{username!r} is disabled", "username")
        if expires_at is not None and expires_at <= utcnow():
            raise UserError("the expiry must lie in the future", "expires")
        try:
            token = issue_token(session, user=user, name=name, scopes=scopes, expires_at=expires_at)
        except ValueError as exc:
            raise UserError(str(exc), "scopes") from None
        _audit(session, user, "token_created", actor, name=name, scopes=list(scopes),
               expires_at=expires_at.isoformat() if expires_at else None)
    return token


def list_tokens(session: Session, *, username: str | None = None) -> list[ApiToken]:
    """Tokens (of one user, or all), newest first; never their secret."""
    query = select(ApiToken).join(User).options(selectinload(ApiToken.user)).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if username is not None:
        query = query.where(User.username == _user(session, username).username)
    return list(session.scalars(query))


def revoke_token(session: Session, *, token_id: int, actor: str = "cli", now: datetime | None = None) -> ApiToken:
    """Revoke one token by its id: from now on it is answered 401."""
    with unit_of_work(session):
        token = (session.get(ApiToken, token_id, options=[selectinload(ApiToken.user)])
                 if 0 < token_id < 2**31 else None)
        if token is None:
            raise UserError(f"no token {token_id}", "id")
        if token.revoked_at is None:
            token.revoked_at = now or utcnow()
            _audit(session, token.user, "token_revoked", actor, token_id=token.id, name=token.name)
    return token
