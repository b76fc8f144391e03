"""``precedent import`` end to end on SQLite and PostgreSQL: summaries, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from kb.db import make_engine, make_session_factory
from kb.models import AuditEvent, Client, Ticket
from service.cli import main

MAPPINGS = Path(__file__).resolve().parents[3] / "data" / "mappings"
CLIENTS = "external_id;name;calendar\nacme;ООО Ромашка;10x5\nvector;АО Вектор;24x7\n"
TICKETS = (
    '{"external_id": "T-1", "client": "acme", "subject": "Не печатает", "created_at": "2024-03-01T09:30:00+03:00"}\n'
    '{"external_id": "T-2", "client": "vector", "subject": "VPN", "priority": "срочно"}\n'
    '{"external_id": "T-3", "client": "nobody", "subject": "Кто это"}\n'
)


def run(database_url: str, *args: str):
    return CliRunner().invoke(main, ["import", *args], env={"PRECEDENT_DATABASE_URL": database_url})


def count(database_url: str, model) -> int:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(model))
    finally:
        engine.dispose()


@pytest.fixture
def files(tmp_path):
    (tmp_path / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    (tmp_path / "tickets.jsonl").write_text(TICKETS, encoding="utf-8")
    return tmp_path


def test_import_prints_summary_and_reimport_updates(database_url, files):
    result = run(database_url, "clients", str(files / "clients.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"clients imported from {files / 'clients.csv'}: 2 created, 0 updated"
    again = run(database_url, "clients", str(files / "clients.csv"), "--json")
    assert again.exit_code == 0
    summary = json.loads(again.stdout)
    assert (summary["created"], summary["updated"], summary["rejected"], summary["imported"]) == (0, 2, 0, True)
    assert count(database_url, Client) == 2
    assert count(database_url, AuditEvent) == 2


def test_bad_rows_exit_2_list_every_error_and_write_nothing(database_url, files):
    run(database_url, "clients", str(files / "clients.csv"))
    path = files / "tickets.jsonl"
    result = run(database_url, "tickets", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: column priority: 'срочно' is not one of low, standard, high, highest "
        "(translate it under \"values\": {\"priority\": {...}} in the mapping)",
        f"{path}:3: column client: no client with external id or name 'nobody'",
        f"error: {path}: 2 bad row(s) of 3; nothing imported (fix them, or pass --skip-invalid to import the valid rows)",
    ]
    assert "Traceback" not in result.output
    assert count(database_url, Ticket) == 0


def test_skip_invalid_imports_the_rest_and_lists_rejected_rows(database_url, files):
    run(database_url, "clients", str(files / "clients.csv"))
    path = files / "tickets.jsonl"
    result = run(database_url, "tickets", str(path), "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tickets imported from {path}: 1 created, 0 updated, 2 rejected"
    assert [line.split(": column")[0] for line in result.stderr.splitlines()] == [f"{path}:2", f"{path}:3"]
    assert count(database_url, Ticket) == 1


def test_dry_run_counts_without_writing(database_url, files):
    result = run(database_url, "clients", str(files / "clients.csv"), "--dry-run")
    assert result.exit_code == 0
    assert "would import" in result.stdout and "2 created" in result.stdout
    assert count(database_url, Client) == 0


def test_mapping_file_of_a_real_tool(database_url, tmp_path):
    (tmp_path / "clients.csv").write_text(CLIENTS, encoding="utf-8")
    run(database_url, "clients", str(tmp_path / "clients.csv"))
    export = tmp_path / "Case.csv"
    export.write_text(
        '"id","name","number","status","priority","type","description","accountName","contactName",'
        '"assignedUserName","createdAt"\n'
        '"65f1c2a9b3e4d5f60","Не работает сканер","17","Assigned","Urgent","Incident","Сканер ШК не читает",'
        '"ООО Ромашка","","","2024-05-01 06:00:00"\n', encoding="utf-8")
    result = run(database_url, "tickets", str(export), "--mapping", str(MAPPINGS / "espocrm.json"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["clients", "{d}/absent.csv"], "error: {d}/absent.csv: file not found"),
    (["clients", "{d}/empty.csv"], "error: {d}/empty.csv: file is empty"),
    (["clients", "{d}/cp1251.csv"], "error: {d}/cp1251.csv: not valid utf-8 text (byte 0xce on line 2); "
                                    "re-save it as UTF-8 or pass --encoding (e.g. cp1251)"),
    (["clients", "{d}/clients.csv", "--mapping", "{d}/bad.json"],
     "error: {d}/bad.json: invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    (["clients", "{d}/clients.csv", "--mapping", "{d}/missing_column.json"],
     "error: {d}/clients.csv: mapping names column 'Наименование' for name, but the file has no such column "
     "(columns: external_id, name, calendar)"),
    (["clients", "{d}/clients.csv", "--delimiter", ";;"], "error: --delimiter: must be one character, got ';;'"),
])
def test_file_errors_are_one_line_with_exit_2(sqlite_url, files, args, message):
    (files / "empty.csv").write_text("", encoding="utf-8")
    (files / "cp1251.csv").write_bytes(CLIENTS.encode("cp1251"))
    (files / "bad.json").write_text("{columns}", encoding="utf-8")
    (files / "missing_column.json").write_text('{"columns": {"name": "Наименование"}}', encoding="utf-8")
    result = run(sqlite_url, *[a.format(d=files) for a in args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message.format(d=files)]
    assert result.stdout == "" and count(sqlite_url, Client) == 0


def test_unknown_entity_is_a_usage_error(sqlite_url, files):
    result = run(sqlite_url, "invoices", str(files / "clients.csv"))
    assert result.exit_code == 2
    assert "Invalid value for '{tickets|clients|nodes|specialists|articles}': 'invoices'" in result.stderr
