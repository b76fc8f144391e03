"""``precedent db``: schema migrations and backups."""

from __future__ import annotations

from pathlib import Path

import click

from kb import migrate
from kb.backup import BackupError
from kb.backup import backup as backup_database
from service.cli.common import fail, settings


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (creates the SQLite file on first use).

    Without PRECEDENT_SECRET_KEY it also creates ``<var_dir>/secret_key`` (random, mode 0600) once, the
    session key the service then reads; several hosts behind one address must share PRECEDENT_SECRET_KEY.
    """
    from service.platform.auth import DEFAULT_SECRET_KEY, create_secret_key_file

    config = settings()
    url = config.resolved_database_url
    migrate.upgrade(url, revision)
    click.echo(f"database at revision {migrate.current_revision(url)}")
    if config.secret_key == DEFAULT_SECRET_KEY:
        created = create_secret_key_file(config.var_dir)
        if created is not None:
            click.echo(f"created the session key file {created} (set PRECEDENT_SECRET_KEY to use another key)")


@db.command()
def current() -> None:
    """Print the database's current revision."""
    click.echo(migrate.current_revision(settings().resolved_database_url) or "empty")


@db.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """Write a consistent backup of the database to PATH (a new file): SQLite's online backup API while the
    service runs, or pg_dump (custom format) for PostgreSQL."""
    try:
        click.echo(backup_database(settings().resolved_database_url, path))
    except BackupError as exc:
        fail(f"path: {exc}", code=1)
