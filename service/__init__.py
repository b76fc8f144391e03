"""The Precedent web service: JSON API under /api/v1, web UI, health and metrics."""

from __future__ import annotations

from flask import Flask

from kb.config import load_settings


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory; ``test_config`` overrides settings (e.g. DATABASE_URL) for tests."""
    settings = load_settings()
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.resolved_database_url,
        SETTINGS=settings,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)

    from service import auth, db, errors

    db.init_app(app)
    errors.register_error_handlers(app)
    auth.init_app(app)

    from service.api import meta

    meta.init_metrics(app)
    app.register_blueprint(meta.bp)

    from service.web import views

    app.register_blueprint(views.bp)

    from service.api import directory, health, knowledge, tickets

    app.register_blueprint(health.bp)
    app.register_blueprint(tickets.bp)
    app.register_blueprint(knowledge.bp)
    app.register_blueprint(directory.bp)

    from service.api import webhooks as webhooks_api
    from service.api import workflow as workflow_api

    app.register_blueprint(workflow_api.bp)
    app.register_blueprint(webhooks_api.bp)

    from service.api import billing as billing_api
    from service.web import billing_views

    app.register_blueprint(billing_api.bp)
    app.register_blueprint(billing_views.bp)

    from service.api import triage as triage_api

    app.register_blueprint(triage_api.bp)
    from service.api import search as search_api

    app.register_blueprint(search_api.bp)
    from service import sla_scheduler
    from service.api import sla as sla_api

    app.register_blueprint(sla_api.bp)
    app.register_blueprint(sla_api.pages)
    sla_scheduler.init_app(app)
    return app
