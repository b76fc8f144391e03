"""The Precedent web service: JSON API under /api/v1, web UI, health and metrics."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from kb.models import MAX_ID
from service.config import load_settings


class _IdConverter(IntegerConverter):
    """``<int:...>`` in routes: a number beyond the database's id range is a 404, never a 500."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound(f"no object has id {value}")
        return number


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory; ``test_config`` overrides settings (e.g. DATABASE_URL, VAR_DIR) for tests.

    Raises RuntimeError in production mode (PRECEDENT_ENV=production, a non-loopback PRECEDENT_HOST or
    running under gunicorn) when the secret key is the default one (see auth.configure_sessions).
    """
    settings = load_settings()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.url_map.converters["int"] = _IdConverter  # before any route is added
    # SECRET_KEY is set by auth.configure_sessions below, once VAR_DIR (and its secret_key file) is known.
    app.config.from_mapping(DATABASE_URL=settings.resolved_database_url, JSON_SORT_KEYS=False)
    app.json.ensure_ascii = False  # Russian text stays readable in API responses
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes  # a bigger body is a 413, never read
    if test_config:
        app.config.update(test_config)
    # One Settings object for everything the app runs (models, index, mail...), agreeing with the overrides.
    if "SETTINGS" not in app.config:
        overrides = {"database_url": app.config["DATABASE_URL"]}
        if app.config.get("VAR_DIR"):
            overrides["var_dir"] = Path(app.config["VAR_DIR"])
        app.config["SETTINGS"] = replace(settings, **overrides)

    from service.api import (
        billing,
        directory,
        health,
        knowledge,
        meta,
        openapi,
        partners,
        quality,
        quote_audit,
        search,
        sla,
        tickets,
        triage,
        webhooks,
        workflow,
    )
    from service.platform import auth, db, errors, outbox, request_log
    from service.sla import scheduler as sla_scheduler
    from service.web import admin as admin_views
    from service.web import billing as billing_views
    from service.web import i18n, partner_desk, views
    from service.web import intake as intake_views
    from service.web import partner_reports as partner_report_views
    from service.web import quote_audit as quote_audit_views
    from service.web import sla as sla_views

    auth.configure_sessions(app, app.config["SETTINGS"])
    auth.install_log_redaction()
    request_log.init_app(app)  # first: the id exists before anything can fail
    db.init_app(app)
    errors.register_error_handlers(app)
    i18n.init_app(app)
    auth.init_app(app)
    meta.init_metrics(app)
    for blueprint in (meta.bp, openapi.bp, health.bp, views.bp, tickets.bp, workflow.bp, knowledge.bp, directory.bp,
                      webhooks.bp, billing.bp, billing_views.bp, triage.bp, search.bp, quality.bp, sla.bp, sla_views.bp,
                      intake_views.bp, admin_views.bp,
                      quote_audit.bp, quote_audit_views.bp, partners.bp, partner_desk.bp,
                      partner_report_views.bp):
        app.register_blueprint(blueprint)
    sla_scheduler.init_app(app)
    outbox.init_app(app)
    return app
