"""``precedent db backup``: a consistent copy that restores, on SQLite (online backup) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import subprocess
import uuid

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from kb import migrate
from kb.db import make_engine, make_session_factory
from kb.models import Client, Ticket
from service.cli import main
from tests.conftest import POSTGRES_ADMIN_URL


def seed(url: str) -> None:
    with make_session_factory(make_engine(url))() as session:
        session.add_all([Ticket(client=Client(name="ООО Ромашка"), subject=f"Заявка {i}") for i in range(3)])
        session.commit()


def tickets(url: str) -> int:
    with make_session_factory(make_engine(url))() as session:
        return session.scalar(select(func.count()).select_from(Ticket))


def run_backup(monkeypatch, url: str, path) -> object:
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", url)
    return CliRunner().invoke(main, ["db", "backup", str(path)])


def test_a_sqlite_backup_restores_to_the_same_data(sqlite_url, tmp_path, monkeypatch):
    seed(sqlite_url)
    result = run_backup(monkeypatch, sqlite_url, tmp_path / "backups" / "copy.sqlite3")
    assert result.exit_code == 0 and "SQLite online backup" in result.output
    restored = f"sqlite:///{tmp_path / 'backups' / 'copy.sqlite3'}"
    assert tickets(restored) == 3 and migrate.current_revision(restored) == migrate.current_revision(sqlite_url)
    again = run_backup(monkeypatch, sqlite_url, tmp_path / "backups" / "copy.sqlite3")
    assert again.exit_code == 1 and "exists" in again.output  # never overwrites a backup


def test_a_postgresql_backup_restores_with_pg_restore(postgres_url, tmp_path, monkeypatch):
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE tickets, clients RESTART IDENTITY CASCADE"))
    engine.dispose()
    seed(postgres_url)
    dump = tmp_path / "precedent.dump"
    result = run_backup(monkeypatch, postgres_url, dump)
    assert result.exit_code == 0 and "pg_dump" in result.output, result.output
    name = f"precedent_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    restored = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        libpq = restored.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq}", str(dump)], check=True)
        assert tickets(restored) == 3
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_missing_sqlite_file_is_one_line(tmp_path, monkeypatch):
    result = run_backup(monkeypatch, f"sqlite:///{tmp_path / 'none.sqlite3'}", tmp_path / "copy.sqlite3")
    assert result.exit_code == 1 and "does not exist" in result.output

