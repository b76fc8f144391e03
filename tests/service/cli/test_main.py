"""The command group: a store that is missing or not migrated is one clear line, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from service.cli import main


def test_a_database_without_the_schema_asks_for_db_upgrade(tmp_path, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = CliRunner().invoke(main, ["users", "token", "manager"])
    assert result.exit_code == 1
    assert "is not initialised" in result.output and "precedent db upgrade" in result.output
    assert "Traceback" not in result.output


def test_the_message_hides_a_database_password(tmp_path, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    from service.cli import common
    from service.config import load_settings

    monkeypatch.setattr(common, "settings", lambda: load_settings().__class__(
        database_url="postgresql+psycopg://precedent:s3cret@127.0.0.1:1/none"))
    result = CliRunner().invoke(main, ["users", "token", "manager"])
    assert result.exit_code == 1 and "precedent:***@" in result.output and "s3cret" not in result.output
