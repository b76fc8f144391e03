"""``precedent serve``: run the web service."""

from __future__ import annotations

import click

from service.cli.common import settings


@click.command()
@click.option("--host", default=None, help="Bind address (default PRECEDENT_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PRECEDENT_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API and web UI with the built-in server (use gunicorn in production)."""
    from service import create_app

    config = settings()
    app = create_app()
    app.run(host=host or config.host, port=port or config.port, debug=False, threaded=True)
