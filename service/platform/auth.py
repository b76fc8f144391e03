"""Authentication and authorisation: API tokens, logins, sessions, roles, and the client-user data boundary.

Every route under ``/api/v1`` needs a Bearer token (or a logged-in browser session) unless its view is
marked :func:`public` (health, metrics, webhooks that carry their own secret). A browser session may change
something through the API only with the session's CSRF token in the ``X-CSRF-Token`` header. Passwords are
stored as salted scrypt hashes and tokens as SHA-256 digests; neither is ever stored or logged in clear.
Logins are rate-limited per account and per address; logout ends the session on the server (a per-user
session version), and production mode refuses to start with the default secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask, current_app, g, request, session
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb import vocab
from kb.models import ApiToken, Assignment, LoginFailure, Specialist, User, utcnow
from service.config import Settings
from service.platform import db
from service.platform.errors import ApiError
from service.platform.permissions import PARTNER, PARTNER_ENDPOINTS, STAFF
from service.platform.unit_of_work import unit_of_work

STAFF_ROLES = STAFF  # the role table's staff roles (service/permissions.py)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``."""
    return generate_password_hash(password, method="scrypt")


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` matches the user's stored hash."""
    return check_password_hash(user.password_hash, password)


#: A scrypt hash (same parameters as :func:`hash_password`) of a random password nobody knows: checked
#: when the username is unknown so that the answer takes as long as for a real account.
DUMMY_PASSWORD_HASH = (
    "scrypt:32768:8:1$TtJH3pmHBsJXbROC$5a2b03d64d269478922262fb11ffdc30ad0598ff61b41ab428f0fc3572f35f66"
    "2a92a0176ac61c211e6f878fd1affd56388666a267ad09a8638537aecbebc210"
)


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
    partner_id: int | None = None,
) -> User:
    """Add a user (no commit). A client user must name its client, a partner engineer its partner; staff
    name neither."""
    if role not in vocab.ROLES:
        raise ValueError(f"role must be one of {', '.join(vocab.ROLES)}")
    if (role == "client") != (client_id is not None):
        raise ValueError("a client user needs a client id, and only a client user may have one")
    if (role == PARTNER) != (partner_id is not None):
        raise ValueError("a partner engineer needs a partner id, and only a partner engineer may have one")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    user = User(username=username, password_hash=hash_password(password), role=role, client_id=client_id,
                specialist_id=specialist_id, partner_id=partner_id)
    session.add(user)
    return user


def set_password(user: User, password: str) -> None:
    """Give ``user`` a new password and void every session cookie it has (no commit)."""
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1


def issue_token(session: Session, *, user: User, name: str | None = None,
                scopes: tuple[str, ...] = ("read", "write"), expires_at: datetime | None = None) -> str:
    """Create an API token for ``user`` and return it in clear, the only time it is visible (no commit)."""
    unknown = sorted(set(scopes) - set(vocab.TOKEN_SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(vocab.TOKEN_SCOPES)}, got {', '.join(scopes) or 'none'}")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=token_digest(token), name=name, scopes=list(dict.fromkeys(scopes)),
                         expires_at=expires_at))
    return token


def valid_token(session: Session, token: str, *, now: datetime | None = None) -> ApiToken | None:
    """The token row of ``token`` when it is neither revoked nor expired and its user is active, else None."""
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return row


def user_for_token(session: Session, token: str) -> User | None:
    """The active user owning a valid (not revoked, not expired) ``token``, or None."""
    row = valid_token(session, token)
    return row.user if row is not None else None


#: How often a token's last use is written (a write on every request would double the load of reads).
LAST_USE_RESOLUTION = timedelta(minutes=1)


def _note_use(row: ApiToken, now: datetime) -> None:
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        session_ = db.session()
        with unit_of_work(session_):
            session_.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))


#: Endpoints an "intake" token may call: the intake creates tickets and asks triage, nothing else.
INTAKE_ENDPOINTS = frozenset({"workflow.create_ticket", "triage.triage"})


def required_scope(method: str, endpoint: str | None) -> tuple[str, ...]:
    """The scopes of which a token needs one for this request."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return ("read",)
    return ("write", "intake") if endpoint in INTAKE_ENDPOINTS else ("write",)


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
    if user.role in ("client", PARTNER):
        return f"{'client' if user.role == 'client' else 'partner'}:{user.username}"
    return user.username


def visible_client_id() -> int | None:
    """The client whose data the current user is limited to; None for staff."""
    user = current_user()
    return user.client_id if user is not None and user.role == "client" else None


def ensure_visible(client_id: int, what: str = "object") -> None:
    """Answer 404 when a client user asks for another client's object (no hint that it exists)."""
    limit = visible_client_id()
    if limit is not None and limit != client_id:
        raise ApiError(404, f"{what} not found")


def partner_ticket_ids(partner_id: int | None):
    """A select of the ids of tickets assigned to an engineer of ``partner_id`` (none for None)."""
    return (select(Assignment.ticket_id).join(Specialist, Specialist.id == Assignment.specialist_id)
            .where(Specialist.partner_id == partner_id, Specialist.partner_id.is_not(None)))


def visible_partner_id() -> int | None:
    """The partner company whose assigned tickets the current user is limited to; None for everyone else."""
    user = current_user()
    return user.partner_id if user is not None and user.role == PARTNER else None


def is_partner_user() -> bool:
    user = current_user()
    return user is not None and user.role == PARTNER


def _wall_partner() -> None:
    """A partner engineer reaches only :data:`PARTNER_ENDPOINTS`, and a ticket only when it is assigned to an
    engineer of its company: another ticket answers 404 as if it did not exist."""
    if not is_partner_user():
        return
    ticket_id = (request.view_args or {}).get("ticket_id")
    if ticket_id is not None:
        mine = db.session().scalar(partner_ticket_ids(g.user.partner_id)
                                   .where(Assignment.ticket_id == ticket_id).limit(1))
        if mine is None:
            raise ApiError(404, f"ticket {ticket_id} not found", field="id")
    if request.endpoint not in PARTNER_ENDPOINTS:
        raise ApiError(403, "a partner engineer works only the tickets assigned to its company")


# --- logins: rate limit, constant-time answer for unknown users -------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    """The outcome of :func:`attempt_login`: the user on success, or the seconds to wait when limited."""

    user: User | None
    retry_after: int | None = None


def _failure_keys(username: str, address: str) -> tuple[str, str]:
    # The column holds 300 characters; a longer name is cut, which only merges absurd names' counters.
    return f"user:{username}"[:300], f"ip:{address}"[:300]


def _seconds_limited(session: Session, key: str, limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until ``key`` has fewer than ``limit`` failures inside the window, or None if it has now."""
    recent = session.scalars(
        select(LoginFailure.at).where(LoginFailure.key == key, LoginFailure.at > now - window)
        .order_by(LoginFailure.at.desc()).limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    # The limit lifts when the limit-th most recent failure leaves the window.
    return max(1, math.ceil((recent[-1] + window - now).total_seconds()))


def attempt_login(session: Session, *, username: str, password: str, address: str, settings: Settings,
                  now: datetime | None = None) -> LoginAttempt:
    """Check a login against the rate limit and the password; record or clear failures (one commit).

    While the account or the address has too many recent failures even the right password is refused and
    nothing is hashed. An unknown username costs one scrypt check like a known one, and counts the same.
    """
    now = now or utcnow()
    window = timedelta(seconds=settings.login_failure_window_seconds)
    account_key, address_key = _failure_keys(username, address)
    with unit_of_work(session):
        waits = [_seconds_limited(session, account_key, settings.login_max_account_failures, window, now),
                 _seconds_limited(session, address_key, settings.login_max_address_failures, window, now)]
        if any(wait is not None for wait in waits):
            return LoginAttempt(user=None, retry_after=max(wait for wait in waits if wait is not None))
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            check_password_hash(DUMMY_PASSWORD_HASH, password)
            ok = False
        else:
            ok = check_password(user, password) and user.active
        if ok:
            session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
            return LoginAttempt(user=user)
        # Old rows are pruned here, so the table holds at most one window of failures.
        session.execute(delete(LoginFailure).where(LoginFailure.at <= now - window))
        session.add_all([LoginFailure(key=account_key, at=now), LoginFailure(key=address_key, at=now)])
    return LoginAttempt(user=None)


# --- browser sessions: server-side logout, CSRF token ----------------------------------------------

#: Header carrying the session's CSRF token on state-changing API calls made with a browser session.
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def start_session(user: User) -> None:
    """Log ``user`` in on this browser: a fresh session bound to the user's current session version."""
    session.clear()
    session["user_id"] = user.id
    session["session_version"] = user.session_version


def end_session(db_session: Session) -> None:
    """Log out: void every cookie of the current session user (bump the session version; one commit)."""
    user = current_user()
    if user is not None and g.get("auth_method") == "session":
        with unit_of_work(db_session):
            db_session.execute(update(User).where(User.id == user.id)
                               .values(session_version=User.session_version + 1))
    session.clear()


def csrf_token() -> str:
    """The session's anti-CSRF token: a hidden ``csrf`` field of every form, the ``X-CSRF-Token`` header."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def csrf_matches(given: str | None) -> bool:
    """Whether ``given`` equals the session's CSRF token (constant time; False when the session has none)."""
    expected = session.get("csrf")
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _load_user() -> None:
    """Resolve the request's user from a Bearer token or the browser session."""
    g.user = None
    g.auth_method = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'", field="Authorization")
        row = valid_token(db.session(), token.strip())
        if row is None:
            raise ApiError(401, "unknown, revoked or expired API token", field="Authorization")
        needed = required_scope(request.method, request.endpoint)
        if not set(needed) & set(row.scopes or ()):
            raise ApiError(403, f"this token's scopes ({', '.join(row.scopes or ())}) do not allow this request: "
                                f"it needs {' or '.join(needed)}", field="Authorization")
        _note_use(row, utcnow())
        g.user, g.auth_method = row.user, "token"
        return
    user_id = session.get("user_id")
    if user_id is not None:
        user = db.session().get(User, user_id)
        # A cookie from before the user's last logout carries an older version: it is void.
        if user is not None and user.active and session.get("session_version") == user.session_version:
            g.user, g.auth_method = user, "session"
        else:
            session.clear()


def _check_api_csrf() -> None:
    """A state-changing API call made with a browser session must carry the session's CSRF token."""
    if (request.method in _UNSAFE_METHODS and request.path.startswith("/api/")
            and g.auth_method == "session" and not csrf_matches(request.headers.get(CSRF_HEADER))):
        raise ApiError(403, f"a browser session must send its CSRF token in the {CSRF_HEADER} header "
                            "(or use 'Authorization: Bearer <token>')", field=CSRF_HEADER)


# --- production checks and session cookie settings -------------------------------------------------

DEFAULT_SECRET_KEY = Settings.secret_key
SECRET_KEY_FILE = "secret_key"


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name or an empty bind: reachable from elsewhere


def _under_gunicorn() -> bool:
    # gunicorn's master sets SERVER_SOFTWARE for its workers; the app cannot see gunicorn's -b address.
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def production_mode(settings: Settings) -> bool:
    """PRECEDENT_ENV=production, a bind host other than a loopback address, or running under gunicorn.

    gunicorn counts as production because it is the production server (README) and its bind address is
    not visible to the app; ``precedent serve`` decides by its --host / PRECEDENT_HOST.
    """
    return (settings.env.strip().lower() == "production" or not _is_loopback(settings.host)
            or _under_gunicorn())


def configured_secret_key(settings: Settings) -> str:
    """PRECEDENT_SECRET_KEY if set, else the key in ``<var_dir>/secret_key`` if present, else the default."""
    if settings.secret_key != DEFAULT_SECRET_KEY:
        return settings.secret_key
    path = settings.var_dir / SECRET_KEY_FILE
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    return DEFAULT_SECRET_KEY


def create_secret_key_file(var_dir: Path) -> Path | None:
    """Write a random key to ``<var_dir>/secret_key`` (mode 0600) unless it exists; the path if created."""
    path = var_dir / SECRET_KEY_FILE
    var_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    return path


def _cookie_secure(settings: Settings) -> bool:
    value = settings.session_cookie_secure.strip().lower()
    if value == "auto":
        return production_mode(settings)
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"PRECEDENT_SESSION_COOKIE_SECURE: expected auto, on or off, not {value!r}")


def configure_sessions(app: Flask, settings: Settings) -> None:
    """Set the secret key and cookie flags; in production mode refuse to run with the default key."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = configured_secret_key(settings)
    if production_mode(settings) and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise RuntimeError(
            "refusing to start in production mode (PRECEDENT_ENV=production, a non-loopback bind host or "
            "gunicorn) with the default secret key: set PRECEDENT_SECRET_KEY or run `precedent db upgrade` to create "
            f"{settings.var_dir / SECRET_KEY_FILE}")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=_cookie_secure(settings))


# --- no secrets in access logs ---------------------------------------------------------------------

# A query parameter whose name says it is a secret (token, access_token, secret, password, api_key).
_SECRET_QUERY = re.compile(r"(?i)((?:^|[?&;])(?:[\w.-]*token|secret|password|api_key)=)[^&;\s\"]*")
REDACTED = "[redacted]"


def redact_secrets(text: str) -> str:
    """``text`` with the values of secret-looking query parameters replaced by ``[redacted]``."""
    return _SECRET_QUERY.sub(lambda match: match.group(1) + REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    """Redacts secret query parameters in access-log records (werkzeug: tuple args; gunicorn: dict atoms)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, dict):
            for name, value in record.args.items():  # in place: gunicorn's atoms are a dict subclass
                if isinstance(value, str):
                    record.args[name] = redact_secrets(value)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


#: Loggers that write one line per request, with the query string.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
_REDACT_FILTER = RedactSecretsFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the access loggers (once, however many apps are created)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretsFilter) for existing in logger.filters):
            logger.addFilter(_REDACT_FILTER)


def init_app(app: Flask) -> None:
    """Authenticate every request; refuse anonymous calls to non-public API routes and CSRF-less writes."""

    @app.before_request
    def _authenticate():
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "precedent_public", False):
            return None
        _load_user()
        if request.path.startswith("/api/") and g.user is None:
            raise ApiError(401, "authentication required: send 'Authorization: Bearer <token>'")
        _check_api_csrf()
        _wall_partner()
        return None

