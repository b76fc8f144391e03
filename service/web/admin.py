"""Administration pages (admin role only): logins and API tokens, in Russian or English (``?lang=en``).

Every change goes through the use cases of ``service.directory.users`` that ``precedent users`` and
``precedent tokens`` call, so each writes the same audit event; a new token is shown once, on the answer to
the form that created it, and never again (only its hash is stored).
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from kb import vocab
from kb.models import Client, User, utcnow
from service.directory import users
from service.platform import db
from service.platform.auth import actor_name, csrf_matches, current_user
from service.platform.permissions import permit, require

bp = Blueprint("admin", __name__, url_prefix="/admin")

LANGUAGES = ("ru", "en")

#: What the pages say, per language (roles and scopes by their names, never their codes).
TEXT = {
    "ru": {
        "title": "Пользователи и токены", "users": "Пользователи", "tokens": "API-токены",
        "login": "Логин", "role": "Роль", "client": "Клиент", "state": "Состояние", "actions": "Действия",
        "active": "активен", "disabled": "отключён", "password": "Пароль", "new_password": "Новый пароль",
        "create_user": "Создать пользователя", "set_role": "Сменить роль", "reset_password": "Сменить пароль",
        "disable": "Отключить", "owner": "Владелец", "name": "Название", "scopes": "Права",
        "expires": "Действует до", "last_used": "Последнее использование", "created": "Создан",
        "never": "никогда", "no_expiry": "бессрочно", "revoked": "отозван", "expired": "истёк",
        "valid": "действует", "revoke": "Отозвать", "create_token": "Выпустить токен",
        "shown_once": "Новый токен — скопируйте его сейчас, больше он показан не будет:",
        "none": "—", "user_created": "Пользователь создан", "role_set": "Роль изменена",
        "password_set": "Пароль изменён, сеансы пользователя завершены",
        "user_disabled": "Пользователь отключён, отозвано токенов: {n}", "token_revoked": "Токен отозван",
        "failed": "Не выполнено: {message}", "bad_date": "дата «действует до» должна быть в формате ГГГГ-ММ-ДД",
        "other_language": "English", "needs_client": "пользователю клиента нужен клиент, другим ролям — нет",
        "not_yourself": "свой собственный вход отключить или лишить роли администратора нельзя",
        "email": "Эл. почта", "set_email": "Сохранить адрес", "email_set": "Адрес эл. почты сохранён",
        "bad_email": "адрес эл. почты должен выглядеть как user@example.com",
        "client_manager": "менеджер клиента",
        "client_manager_hint": "читает аудит ИТ-инфраструктуры своей компании и видит все её заявки",
    },
    "en": {
        "title": "Users and tokens", "users": "Users", "tokens": "API tokens",
        "login": "Login", "role": "Role", "client": "Client", "state": "State", "actions": "Actions",
        "active": "active", "disabled": "disabled", "password": "Password", "new_password": "New password",
        "create_user": "Create user", "set_role": "Change role", "reset_password": "Reset password",
        "disable": "Disable", "owner": "Owner", "name": "Name", "scopes": "Scopes",
        "expires": "Expires", "last_used": "Last used", "created": "Created",
        "never": "never", "no_expiry": "no expiry", "revoked": "revoked", "expired": "expired",
        "valid": "valid", "revoke": "Revoke", "create_token": "Issue token",
        "shown_once": "New token: copy it now, it will not be shown again:",
        "none": "—", "user_created": "User created", "role_set": "Role changed",
        "password_set": "Password changed; the user's sessions ended",
        "user_disabled": "User disabled; tokens revoked: {n}", "token_revoked": "Token revoked",
        "failed": "Not done: {message}", "bad_date": "the expiry must be a date YYYY-MM-DD",
        "other_language": "Русский", "needs_client": "a client user needs a client, and only a client user has one",
        "not_yourself": "you cannot disable your own login or take the admin role from it",
        "email": "E-mail", "set_email": "Save address", "email_set": "E-mail address saved",
        "bad_email": "the e-mail address must look like user@example.com",
        "client_manager": "client's manager",
        "client_manager_hint": "reads the company's infrastructure audit and sees all of its requests",
    },
}
ROLE_NAMES = {
    "ru": {"engineer_l1": "Инженер 1-й линии", "engineer_l2": "Инженер 2-й линии / специалист",
           "manager": "Руководитель", "analyst": "Аналитик", "admin": "Администратор",
           "client": "Пользователь клиента"},
    "en": {"engineer_l1": "Line-1 engineer", "engineer_l2": "Line-2 engineer / specialist", "manager": "Manager",
           "analyst": "Analyst", "admin": "Administrator", "client": "Client user"},
}
SCOPE_NAMES = {"ru": {"read": "чтение", "write": "запись", "intake": "приём заявок"},
               "en": {"read": "read", "write": "write", "intake": "ticket intake"}}


def language() -> str:
    """``?lang=`` when given, else the browser's preference between Russian and English (Russian first)."""
    given = request.values.get("lang")
    if given in LANGUAGES:
        return given
    return request.accept_languages.best_match(LANGUAGES, default="ru") or "ru"


@bp.before_request
def _guard():
    """Admins only (anyone else: login or 403); every form posts the session's CSRF token."""
    if current_user() is None:
        return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
    if request.method == "POST" and not csrf_matches(request.form.get("csrf")):
        abort(400, "the form expired; reload the page and try again")
    require("users.manage")
    return None


def _page(new_token: str | None = None, status: int = 200):
    session = db.session()
    lang = language()
    accounts = sorted(users.list_users(session), key=lambda u: (not u.active, u.role, u.username))
    now = utcnow()
    tokens = sorted(users.list_tokens(session), key=lambda t: (_token_state(t, now) != "valid", -t.id))
    clients = session.scalars(select(Client).order_by(Client.name)).all()
    return render_template("admin/users.html", t=TEXT[lang], lang=lang, roles=ROLE_NAMES[lang],
                           scope_names=SCOPE_NAMES[lang], accounts=accounts, tokens=tokens, now=now,
                           clients=clients, client_names={c.id: c.name for c in clients},
                           token_state=_token_state, new_token=new_token), status


def _token_state(token, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    expires = token.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= now:
        return "expired"
    return "valid"


def _back():
    return redirect(url_for("admin.users_page", lang=language()))


def _done(use_case, success: str, **kwargs) -> bool:
    """Run a use case of service.directory.users as the current admin; flash what happened."""
    t = TEXT[language()]
    try:
        result = use_case(db.session(), actor=actor_name(), **kwargs)
    except users.UserError as exc:
        message = {"client": t["needs_client"], "email": t["bad_email"]}.get(exc.field, exc)
        flash(t["failed"].format(message=message))
        return False
    flash(t[success].format(n=result) if "{n}" in t[success] else t[success])
    return True


def _account(user_id: int, *, not_yourself: bool = False) -> User | None:
    """The login ``user_id`` (404 when there is none); with ``not_yourself``, None (and a message) when it is
    the admin's own: an admin who disabled or demoted itself could not undo it."""
    user = db.session().get(User, user_id)
    if user is None:
        abort(404)
    if not_yourself and user.id == current_user().id:
        flash(TEXT[language()]["failed"].format(message=TEXT[language()]["not_yourself"]))
        return None
    return user


def _client_manager(role: str) -> bool:
    """The "client's manager" checkbox (it means something for a client user only)."""
    return role == "client" and request.form.get("client_manager") == "on"


def _client_id() -> int | None:
    raw = request.form.get("client_id", "").strip()
    return int(raw) if raw.isdigit() and int(raw) <= 2**31 - 1 else None


@bp.get("/users")
@permit("users.manage")
def users_page():
    """Logins (active first, by role) and API tokens (valid first, newest first)."""
    return _page()


@bp.post("/users")
@permit("users.manage")
def create_user():
    """Create a login: username, password, role and, for a client user, its client."""
    role = request.form.get("role", "")
    _done(users.register_user, "user_created", username=request.form.get("username", "").strip(),
          password=request.form.get("password", ""), role=role,
          client_id=_client_id() if role == "client" else None, email=request.form.get("email"),
          client_manager=_client_manager(role))
    return _back()


@bp.post("/users/<int:user_id>/email")
@permit("users.manage")
def set_email(user_id: int):
    """Set a login's e-mail address (empty: none); a client user's status and comment mail goes there."""
    _done(users.set_email, "email_set", username=_account(user_id).username, email=request.form.get("email", ""))
    return _back()


@bp.post("/users/<int:user_id>/role")
@permit("users.manage")
def set_role(user_id: int):
    """Give a login another role, a client user with its client and the "client's manager" mark (its sessions end)."""
    role = request.form.get("role", "")
    account = _account(user_id, not_yourself=request.form.get("role") != "admin")
    if account is not None:
        _done(users.set_role, "role_set", username=account.username, role=role,
              client_id=_client_id() if role == "client" else None, client_manager=_client_manager(role))
    return _back()


@bp.post("/users/<int:user_id>/password")
@permit("users.manage")
def reset_password(user_id: int):
    """Set a new password (the user's sessions end everywhere)."""
    _done(users.change_password, "password_set", username=_account(user_id).username,
          password=request.form.get("password", ""))
    return _back()


@bp.post("/users/<int:user_id>/disable")
@permit("users.manage")
def disable_user(user_id: int):
    """Disable a login: its sessions end and its tokens are revoked."""
    account = _account(user_id, not_yourself=True)
    if account is not None:
        _done(users.disable_user, "user_disabled", username=account.username)
    return _back()


def _expiry() -> datetime | None:
    raw = request.form.get("expires", "").strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise users.UserError(TEXT[language()]["bad_date"], "expires") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


@bp.post("/tokens")
@permit("users.manage")
def create_token():
    """Issue a token for a login; the answer is the page showing the token once (no redirect)."""
    t = TEXT[language()]
    scopes = tuple(s for s in vocab.TOKEN_SCOPES if request.form.get(f"scope_{s}"))
    try:
        token = users.new_api_token(db.session(), username=request.form.get("username", ""),
                                    name=request.form.get("name", "").strip()[:100] or None,
                                    scopes=scopes, expires_at=_expiry(), actor=actor_name())
    except users.UserError as exc:
        flash(t["failed"].format(message=exc))
        return _back()
    return _page(new_token=token, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@permit("users.manage")
def revoke_token(token_id: int):
    """Revoke a token: from now on it is answered 401."""
    _done(users.revoke_token, "token_revoked", token_id=token_id)
    return _back()
