"""The settings in force: the running app's when there is one, else the environment's."""

from __future__ import annotations

from kb.config import Settings, load_settings


def current_settings(settings: Settings | None = None) -> Settings:
    """``settings`` if given, else the app's (``create_app`` reconciles it with its overrides), else the environment's."""
    if settings is not None:
        return settings
    from flask import current_app, has_app_context

    if has_app_context() and "SETTINGS" in current_app.config:
        return current_app.config["SETTINGS"]
    return load_settings()
