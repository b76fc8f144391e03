"""Sessions, logins and secrets (issue 10, items 7-11): secret key, login rate limit, server-side logout,
CSRF on API writes made with a browser session, protected /metrics and no secrets in access logs."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from kb.db import make_engine, make_session_factory, transaction
from kb.models import AuditEvent, Client, LoginFailure, Ticket, User
from service.config import Settings, load_settings
from service.platform.auth import create_user, issue_token

PASSWORD = "correct horse battery"
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}  # an address that is not this host


def _sessions(app):
    return make_session_factory(make_engine(app.config["DATABASE_URL"]))


def _add_user(app, username: str, role: str = "engineer_l1", client_id: int | None = None) -> None:
    with transaction(_sessions(app)) as session:
        create_user(session, username=username, password=PASSWORD, role=role, client_id=client_id)


def _token(app, role: str) -> str:
    with transaction(_sessions(app)) as session:
        user = create_user(session, username=f"{role}-token", password=PASSWORD, role=role,
                           client_id=session.scalar(select(Client.id)) if role == "client" else None)
        return issue_token(session, user=user)


def _login(web, username: str, password: str = PASSWORD, environ: dict | None = None):
    environ = environ or {}
    page = web.get("/login", environ_base=environ).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return web.post("/login", data={"username": username, "password": password, "csrf": csrf},
                    environ_base=environ)


# --- 7. secret key and production mode -------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path, sqlite_url):
    """An environment naming only a temporary database and var folder."""
    for name in list(os.environ):
        if name.startswith("PRECEDENT_") or name == "SERVER_SOFTWARE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PRECEDENT_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


def test_env_setting_defaults_to_development():
    assert Settings().env == "development"
    assert load_settings({"PRECEDENT_ENV": "production"}).env == "production"


@pytest.mark.parametrize("variable, value", [("PRECEDENT_ENV", "production"), ("PRECEDENT_HOST", "0.0.0.0"),
                                             ("PRECEDENT_HOST", "10.1.2.3")])
def test_production_mode_refuses_the_default_secret_key(clean_env, variable, value):
    from service import create_app

    clean_env.setenv(variable, value)
    with pytest.raises(RuntimeError, match="default secret key"):
        create_app()
    clean_env.setenv("PRECEDENT_SECRET_KEY", "a-real-key-" + "x" * 40)
    assert create_app().config["SECRET_KEY"] == "a-real-key-" + "x" * 40


def test_development_on_loopback_starts_with_the_default_key(clean_env):
    from service import create_app

    clean_env.setenv("PRECEDENT_HOST", "::1")
    assert create_app().config["SECRET_KEY"] == Settings.secret_key


def test_db_upgrade_creates_the_key_file_once_and_the_app_uses_it(clean_env, tmp_path):
    from service import create_app
    from service.cli import main

    first = CliRunner().invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "var" / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 64 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = CliRunner().invoke(main, ["db", "upgrade"])
    assert again.exit_code == 0 and key_file.read_text().strip() == key  # never replaced
    clean_env.setenv("PRECEDENT_ENV", "production")
    assert create_app().config["SECRET_KEY"] == key  # the file satisfies production mode


def test_serve_on_a_public_host_with_the_default_key_exits_with_one_line(clean_env, monkeypatch):
    from flask import Flask

    from service.cli import main

    started = []
    monkeypatch.setattr(Flask, "run", lambda self, **kwargs: started.append(kwargs))
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert started == [] and result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to start") and "default secret key" in lines[0]


def test_gunicorn_refuses_the_default_key(clean_env, tmp_path):
    """gunicorn's bind is invisible to the app, so running under gunicorn is production mode."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    completed = subprocess.run([str(gunicorn), "-b", "127.0.0.1:0", "-w", "1", "service:create_app()"],
                               env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert completed.returncode != 0
    assert "default secret key" in completed.stderr


def test_session_cookie_flags(app, clean_env):
    from service import create_app

    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # development: plain http://127.0.0.1 works
    clean_env.setenv("PRECEDENT_SECRET_KEY", "k" * 40)
    clean_env.setenv("PRECEDENT_ENV", "production")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True
    clean_env.setenv("PRECEDENT_SESSION_COOKIE_SECURE", "off")
    assert create_app().config["SESSION_COOKIE_SECURE"] is False
    clean_env.setenv("PRECEDENT_ENV", "development")
    clean_env.setenv("PRECEDENT_SESSION_COOKIE_SECURE", "on")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_login_cookie_is_httponly_and_samesite(app):
    _add_user(app, "eng")
    response = _login(app.test_client(), "eng")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- 8. login rate limit and user enumeration ------------------------------------------------------


def test_ten_wrong_passwords_lock_the_account_even_for_the_right_one(app):
    _add_user(app, "eng")
    web = app.test_client()
    for _ in range(10):
        assert _login(web, "eng", "wrong password").status_code == 401
    limited = _login(web, "eng")  # the right password
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    assert web.get("/queue").status_code == 302  # not logged in
    # Another address is limited too: the account's counter is shared.
    assert _login(app.test_client(), "eng", environ=REMOTE).status_code == 429
    # Once the failures are older than the window, the right password works again.
    with transaction(_sessions(app)) as session:
        session.execute(update(LoginFailure).values(at=datetime.now(UTC) - timedelta(minutes=16)))
    assert _login(web, "eng").status_code == 302


def test_success_clears_the_account_failures(app):
    _add_user(app, "eng")
    web = app.test_client()
    for _ in range(2):
        for _ in range(9):
            assert _login(web, "eng", "wrong password").status_code == 401
        assert _login(web, "eng").status_code == 302
        web.post("/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"',
                                                    web.get("/queue").get_data(as_text=True)).group(1)})
    with _sessions(app)() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)
                              .where(LoginFailure.key == "user:eng")) == 0


def test_one_address_is_limited_across_accounts(app):
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], login_max_address_failures=5)
    _add_user(app, "eng")
    web = app.test_client()
    for number in range(5):
        assert _login(web, f"guess{number}", "wrong password", environ=REMOTE).status_code == 401
    assert _login(web, "eng", environ=REMOTE).status_code == 429
    assert _login(app.test_client(), "eng").status_code == 302  # from another address: fine


def test_unknown_users_cost_a_password_hash_and_count_the_same(app, monkeypatch):
    import service.platform.auth as auth
    from service.platform.auth import DUMMY_PASSWORD_HASH

    checked = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda stored, given: checked.append(stored) or real(stored, given))
    _add_user(app, "eng")
    web = app.test_client()
    assert _login(web, "nobody", "wrong password").status_code == 401
    assert checked == [DUMMY_PASSWORD_HASH]
    # The dummy hash has the cost of a real one, so the answer takes as long.
    with _sessions(app)() as session:
        real_hash = session.scalar(select(User.password_hash).where(User.username == "eng"))
    assert DUMMY_PASSWORD_HASH.split("$")[0] == real_hash.split("$")[0] == "scrypt:32768:8:1"
    for _ in range(9):
        _login(web, "nobody", "wrong password")
    assert _login(web, "nobody", "wrong password").status_code == 429  # as a known account would


def test_unknown_and_known_users_answer_in_similar_time(app):
    _add_user(app, "eng")
    web = app.test_client()

    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            assert _login(web, username, "wrong password").status_code == 401
            times.append(time.perf_counter() - started)
        return min(times)

    known, unknown = fastest("eng"), fastest("nobody")
    assert unknown > 0.4 * known, (known, unknown)  # was 4 ms against 117 ms


# --- 9. server-side logout -------------------------------------------------------------------------


def _logged_in(app, username: str = "eng"):
    _add_user(app, username)
    web = app.test_client()
    assert _login(web, username).status_code == 302
    return web


def test_a_cookie_is_void_after_logout(app):
    web = _logged_in(app)
    cookie = web.get_cookie("session").value
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/queue").get_data(as_text=True)).group(1)
    assert web.post("/logout", data={"csrf": csrf}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/queue").status_code == 302  # to the login page
    assert replay.get("/api/v1/tickets").status_code == 401
    with _sessions(app)() as session:
        assert session.scalar(select(User.session_version).where(User.username == "eng")) == 1


def test_logout_ends_the_users_other_sessions_too(app):
    web = _logged_in(app)
    other = app.test_client()
    assert _login(other, "eng").status_code == 302
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/queue").get_data(as_text=True)).group(1)
    web.post("/logout", data={"csrf": csrf})
    assert other.get("/queue").status_code == 302
    assert _login(other, "eng").status_code == 302 and other.get("/queue").status_code == 200


def test_a_password_change_ends_the_users_sessions(app, monkeypatch):
    from service.cli import main

    web = _logged_in(app)
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["users", "password", "eng", "--password", "another horse battery"])
    assert result.exit_code == 0, result.output
    assert web.get("/queue").status_code == 302
    assert _login(web, "eng", "another horse battery").status_code == 302
    short = CliRunner().invoke(main, ["users", "password", "eng", "--password", "short"])
    assert short.exit_code == 2 and "at least 8 characters" in short.output


# --- 10. CSRF on API writes made with a browser session --------------------------------------------


@pytest.fixture
def hourly_ticket(app) -> int:
    with transaction(_sessions(app)) as session:
        ticket = Ticket(client=Client(name="ООО Ромашка"), subject="Настроить VPN", billing_mode="hourly",
                        created_at=datetime(2026, 5, 1, tzinfo=UTC))
        session.add(ticket)
        session.flush()
        return ticket.id


def _stop_work_events(app, ticket_id: int) -> int:
    with _sessions(app)() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.entity_id == ticket_id, AuditEvent.action.like("%stop%")))


def test_a_cross_site_post_with_only_the_session_cookie_is_refused(app, hourly_ticket):
    web = _logged_in(app)
    forged = web.post(f"/api/v1/tickets/{hourly_ticket}/stop-work", data={"x": "1"})
    assert forged.status_code == 403 and forged.json["error"]["field"] == "X-CSRF-Token"
    wrong = web.post(f"/api/v1/tickets/{hourly_ticket}/stop-work", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert _stop_work_events(app, hourly_ticket) == 0
    assert web.get(f"/api/v1/tickets/{hourly_ticket}").status_code == 200  # reads need no token


def test_the_session_csrf_token_from_the_page_allows_the_write(app, hourly_ticket):
    web = _logged_in(app)
    page = web.get("/queue").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    response = web.post(f"/api/v1/tickets/{hourly_ticket}/stop-work", headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.json
    assert _stop_work_events(app, hourly_ticket) == 1


def test_bearer_tokens_need_no_csrf_token(app, hourly_ticket):
    token = _token(app, "engineer_l1")
    response = app.test_client().post(f"/api/v1/tickets/{hourly_ticket}/stop-work",
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json


def test_a_non_ascii_csrf_value_is_a_400_not_a_500(app):
    web = app.test_client()
    web.get("/login")  # the session now holds a CSRF token to compare with
    response = web.post("/login", data={"username": "eng", "password": "x", "csrf": "тест"})
    assert response.status_code == 400


# --- 11. /metrics and access logs ------------------------------------------------------------------


def test_metrics_from_another_host_need_a_token(app):
    web = app.test_client()
    assert web.get("/metrics").status_code == 200  # loopback (the test client is 127.0.0.1)
    assert web.get("/metrics", environ_base=REMOTE).status_code == 401
    assert web.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 401  # via a proxy
    staff = _token(app, "manager")
    assert web.get("/metrics", environ_base=REMOTE, headers={"Authorization": f"Bearer {staff}"}).status_code == 200
    with transaction(_sessions(app)) as session:
        session.add(Client(name="ООО Ромашка"))
    client_user = _token(app, "client")
    assert web.get("/metrics", environ_base=REMOTE,
                   headers={"Authorization": f"Bearer {client_user}"}).status_code == 403
    assert web.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer nope"}).status_code == 401
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], metrics_token="scrape-secret")
    assert web.get("/metrics", environ_base=REMOTE,
                   headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_the_werkzeug_access_log_redacts_query_tokens(app, caplog):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            url = f"http://127.0.0.1:{server.server_port}/healthz?token=s3cret-value&x=1"
            with urllib.request.urlopen(url) as response:
                assert response.status == 200
            deadline = time.monotonic() + 5
            while "healthz" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        server.shutdown()
        thread.join()
    assert "/healthz?token=[redacted]&x=1" in caplog.text
    assert "s3cret-value" not in caplog.text


def test_the_gunicorn_access_log_redacts_query_tokens(app, caplog):
    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    atoms = SafeAtoms({"h": "10.0.0.1", "l": "-", "u": "-", "t": "[now]", "s": "200", "b": "2", "f": "-",
                       "a": "alertmanager", "r": "POST /api/v1/webhooks/alertmanager?token=s3cret-value HTTP/1.1",
                       "q": "token=s3cret-value"})
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logging.getLogger("gunicorn.access").info(Config().access_log_format + " %(q)s", atoms)
    assert "alertmanager?token=[redacted] HTTP/1.1" in caplog.text and " token=[redacted]" in caplog.text
    assert "s3cret-value" not in caplog.text


def test_redaction_keeps_other_parameters():
    from service.platform.auth import redact_secrets

    assert redact_secrets("GET /x?page=2&access_token=abc&password=p HTTP/1.1") == \
        "GET /x?page=2&access_token=[redacted]&password=[redacted] HTTP/1.1"
    assert redact_secrets("GET /tickets?tokenizer=1") == "GET /tickets?tokenizer=1"
