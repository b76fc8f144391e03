"""``precedent serve``: run the web service."""

from __future__ import annotations

from dataclasses import replace

import click

from service.cli.common import fail, settings


@click.command()
@click.option("--host", default=None, help="Bind address (default PRECEDENT_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PRECEDENT_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API and web UI with the built-in server (use gunicorn in production).

    A non-loopback --host is production mode: it needs a real secret key (PRECEDENT_SECRET_KEY or the
    var/secret_key file that `precedent db upgrade` creates).
    """
    from service import create_app

    config = settings()
    config = replace(config, host=host or config.host, port=port or config.port)
    try:
        # The bind host decides production mode, so the app is built with the host it will serve on.
        app = create_app({"SETTINGS": config})
    except (RuntimeError, ValueError) as exc:
        fail(str(exc), code=1)
    app.run(host=config.host, port=config.port, debug=False, threaded=True)
