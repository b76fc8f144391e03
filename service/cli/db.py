"""``precedent db``: schema migrations."""

from __future__ import annotations

import click

from kb import migrate
from service.cli.common import settings


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (creates the SQLite file on first use)."""
    url = settings().resolved_database_url
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")


@db.command()
def current() -> None:
    """Print the database's current revision."""
    click.echo(migrate.current_revision(settings().resolved_database_url) or "empty")
