"""Authentication and authorisation: API tokens, logins, roles, and the client-user data boundary.

Every route under ``/api/v1`` needs a Bearer token (or a logged-in browser session) unless its view is
marked :func:`public` (health, metrics, webhooks that carry their own secret). Passwords are stored as
salted scrypt hashes and tokens as SHA-256 digests; neither is ever stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, g, request, session
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb import vocab
from kb.models import ApiToken, User
from service import db
from service.errors import ApiError

STAFF_ROLES = ("engineer_l1", "engineer_l2", "manager", "analyst")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``."""
    return generate_password_hash(password, method="scrypt")


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` matches the user's stored hash."""
    return check_password_hash(user.password_hash, password)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    client_id: int | None = None,
    specialist_id: int | None = None,
) -> User:
    """Add a user (no commit). A client user must name its client; staff must not."""
    if role not in vocab.ROLES:
        raise ValueError(f"role must be one of {', '.join(vocab.ROLES)}")
    if (role == "client") != (client_id is not None):
        raise ValueError("a client user needs a client id, and only a client user may have one")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    user = User(username=username, password_hash=hash_password(password), role=role, client_id=client_id,
                specialist_id=specialist_id)
    session.add(user)
    return user


def issue_token(session: Session, *, user: User, name: str | None = None) -> str:
    """Create an API token for ``user`` and return it in clear, the only time it is visible (no commit)."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=token_digest(token), name=name))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning ``token``, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or not row.user.active:
        return None
    return row.user


def public(view: Callable) -> Callable:
    """Mark a view as reachable without a user (it must protect itself if it needs to)."""
    view.precedent_public = True
    return view


def current_user() -> User | None:
    return g.get("user")


def actor_name() -> str:
    """How the current user appears in the audit trail: client users are prefixed ``client:``."""
    user = current_user()
    if user is None:
        raise ApiError(401, "authentication required")
    return f"client:{user.username}" if user.role == "client" else user.username


def visible_client_id() -> int | None:
    """The client whose data the current user is limited to; None for staff."""
    user = current_user()
    return user.client_id if user is not None and user.role == "client" else None


def ensure_visible(client_id: int, what: str = "object") -> None:
    """Answer 404 when a client user asks for another client's object (no hint that it exists)."""
    limit = visible_client_id()
    if limit is not None and limit != client_id:
        raise ApiError(404, f"{what} not found")


def require_roles(*roles: str) -> Callable:
    """Restrict a view to the given roles (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None or user.role not in roles:
                raise ApiError(403, f"this action needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _load_user() -> None:
    """Resolve the request's user from a Bearer token or the browser session."""
    g.user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'", field="Authorization")
        user = user_for_token(db.session(), token.strip())
        if user is None:
            raise ApiError(401, "unknown or revoked API token", field="Authorization")
        g.user = user
        return
    user_id = session.get("user_id")
    if user_id is not None:
        user = db.session().get(User, user_id)
        if user is not None and user.active:
            g.user = user


def init_app(app: Flask) -> None:
    """Authenticate every request; refuse anonymous calls to non-public API routes."""

    @app.before_request
    def _authenticate():
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "precedent_public", False):
            return None
        _load_user()
        if request.path.startswith("/api/") and g.user is None:
            raise ApiError(401, "authentication required: send 'Authorization: Bearer <token>'")
        return None

