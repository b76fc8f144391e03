"""Backups of the knowledge store: SQLite's online backup API, or ``pg_dump`` for PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup could not be written; the message says why."""


def backup(url: str, target: Path) -> str:
    """Write a consistent copy of the database at ``url`` to ``target``; how it was made (one line)."""
    parsed = make_url(url)
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file (a backup never overwrites one)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_backup(parsed.database or "", target)
    if parsed.get_backend_name() == "postgresql":
        return _pg_dump(parsed, target)
    raise BackupError(f"no backup method for {parsed.get_backend_name()} databases")


def _sqlite_backup(database: str, target: Path) -> str:
    if not database or database == ":memory:" or not Path(database).exists():
        raise BackupError(f"the SQLite file {database or '(none)'} does not exist")
    # The online backup API copies a consistent snapshot while the service keeps writing (WAL included).
    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"SQLite online backup of {database} to {target}"


def _pg_dump(parsed, target: Path) -> str:
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed (Debian: postgresql-client)")
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    result = subprocess.run(["pg_dump", "--format=custom", f"--file={target}", libpq], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}")
    where = parsed.render_as_string(hide_password=True)
    return f"pg_dump --format=custom of {where} to {target} (restore with pg_restore --dbname=...)"
