"""Importers over real databases (SQLite and PostgreSQL): mappings, idempotent re-import, every error case."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kb.db import make_engine, make_session_factory
from kb.importers import (
    FIELDS,
    ImportFileError,
    Mapping,
    convert_value,
    import_file,
    load_mapping,
    parse_mapping,
    read_source,
)
from kb.models import Article, Assignment, AuditEvent, Client, Node, Skill, Specialist, Ticket

MAPPINGS = Path(__file__).resolve().parents[2] / "data" / "mappings"

CLIENTS_CSV = (
    "external_id,name,sla_policy,calendar,timezone,country\n"
    "acme,ООО Ромашка,Gold,10x5,Europe/Moscow,ru\n"
    "vector,АО Вектор,bronze,24x7,Asia/Yekaterinburg,RU\n"
)
SPECIALISTS_JSONL = (
    '{"external_id": "s1", "name": "Иванов Иван", "line": 2, "skills": "1c:4;network:2", "active": "да"}\n'
    '{"external_id": "s2", "name": "Петров Пётр", "line": "1", "skills": {"workstations": 3}, "capacity": 5}\n'
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def sqlite_session(sqlite_url):
    """A session on a migrated SQLite file, for checks that do not depend on the backend."""
    engine = make_engine(sqlite_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@pytest.fixture
def directory(db_session, tmp_path):
    """Two clients and two specialists, imported through the importer itself."""
    import_file(db_session, entity="clients", path=write(tmp_path / "clients.csv", CLIENTS_CSV))
    import_file(db_session, entity="specialists", path=write(tmp_path / "specialists.jsonl", SPECIALISTS_JSONL))
    db_session.commit()
    return db_session


# --- mapping of real export formats -------------------------------------------------------------

GLPI_TICKETS = (
    "\ufeffID;Title;Entity;Status;Opening date;Resolution date;Priority;Type;Request source;"
    "Requester - Requester;Assigned to - Technician;Category;Description\n"
    "1042;Не печатает МФУ;ООО Ромашка;Solved;2024-03-01 09:30;2024-03-01 11:00;Medium;Incident;Phone;"
    "Сидорова Анна;Петров Пётр;Hardware > Printer;\"Замятие бумаги,\nлоток 2\"\n"
    "1043;Настроить VPN;АО Вектор;New;2024-03-02 10:00;;Very high;Request;E-Mail;"
    "Кузнецов;Иванов Иван;Network;Нужен доступ\n"
)


def test_glpi_export_is_mapped_onto_tickets(directory, tmp_path):
    session = directory
    mapping = load_mapping(MAPPINGS / "glpi.json", entity="tickets")
    report = import_file(session, entity="tickets", path=write(tmp_path / "glpi.csv", GLPI_TICKETS), mapping=mapping)
    session.commit()
    assert (report.created, report.updated, report.errors) == (2, 0, [])
    first = session.scalar(select(Ticket).where(Ticket.external_id == "1042"))
    assert first.client.name == "ООО Ромашка"
    assert (first.priority, first.status, first.type, first.channel, first.group) == (
        "standard", "resolved", "incident", "phone", "printers")
    assert first.requester_name == "Сидорова Анна"
    assert first.description == "Замятие бумаги,\nлоток 2"
    # Naive GLPI time read in the mapping's zone (Moscow, UTC+3).
    assert first.created_at == datetime(2024, 3, 1, 6, 30, tzinfo=UTC)
    assert first.resolved_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert [a.specialist.name for a in first.assignees] == ["Петров Пётр"]
    second = session.scalar(select(Ticket).where(Ticket.external_id == "1043"))
    assert (second.priority, second.type, second.channel, second.group, second.resolved_at) == (
        "highest", "service_request", "email", "network", None)


ZAMMAD_TICKETS = (
    "#,Title,State,Priority,Group,Owner,Customer,Organization,Create Channel,Sender,Tags,Time Units Total,"
    "Created At,Updated At,Closed At,First Response At\n"
    "31001,Outlook не подключается,closed,3 high,Users,Иванов Иван,buh@romashka.ru,acme,email,Customer,,0.5,"
    "2024-04-10 08:00:00,2024-04-10 12:00:00,2024-04-10 12:00:00,2024-04-10 08:20:00\n"
    "31002,Замена картриджа,new,2 normal,Printers,-,office@vector.ru,vector,web,Customer,,,"
    "2024-04-11 09:00:00,2024-04-11 09:00:00,,\n"
)


def test_zammad_export_is_mapped_onto_tickets(directory, tmp_path):
    session = directory
    mapping = load_mapping(MAPPINGS / "zammad.json", entity="tickets")
    report = import_file(session, entity="tickets", path=write(tmp_path / "zammad.csv", ZAMMAD_TICKETS),
                         mapping=mapping)
    session.commit()
    assert (report.created, report.errors) == (2, [])
    closed = session.scalar(select(Ticket).where(Ticket.external_id == "31001"))
    assert (closed.status, closed.priority, closed.group, closed.channel) == ("closed", "high", "workstations", "email")
    assert closed.reacted_at == datetime(2024, 4, 10, 5, 20, tzinfo=UTC)
    assert [a.specialist.external_id for a in closed.assignees] == ["s1"]
    fresh = session.scalar(select(Ticket).where(Ticket.external_id == "31002"))
    assert (fresh.status, fresh.priority, fresh.channel, fresh.client.external_id) == ("new", "standard", "portal",
                                                                                       "vector")
    assert fresh.assignees == [] and fresh.closed_at is None


@pytest.mark.parametrize("name", ["glpi", "zammad", "otrs", "espocrm"])
def test_shipped_mappings_are_valid(name):
    sections = json.loads((MAPPINGS / f"{name}.json").read_text(encoding="utf-8"))
    entities = [key for key in sections if key != "comment"]
    assert entities
    for entity in entities:
        assert isinstance(load_mapping(MAPPINGS / f"{name}.json", entity=entity), Mapping)


# --- idempotent re-import -----------------------------------------------------------------------


def test_reimport_updates_by_external_id_without_duplicates(directory, tmp_path):
    session = directory
    nodes = write(tmp_path / "nodes.csv",
                  "external_id,client,kind,name,depends_on,monitored,attributes\n"
                  "n1,acme,1c_base,БП 3.0,n2,да,\"{\"\"platform\"\": \"\"8.3.24\"\"}\"\n"
                  "n2,ООО Ромашка,server,SRV-1C,,yes,\n")
    tickets = tmp_path / "tickets.jsonl"
    rows = [{"external_id": "T-1", "client": "acme", "subject": "1С тормозит", "priority": "high",
             "created_at": "2024-03-01T09:30:00+03:00", "nodes": ["БП 3.0"], "assignees": "Иванов Иван;s2"},
            {"external_id": "T-2", "client": "vector", "subject": "Нет сети", "created_at": "2024-03-02T10:00:00Z"}]
    write(tickets, "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")

    first = [import_file(session, entity="nodes", path=nodes), import_file(session, entity="tickets", path=tickets)]
    session.commit()
    counts = {m: count(session, m) for m in (Client, Node, Ticket, Assignment, Specialist, Skill)}
    assert [(r.created, r.updated) for r in first] == [(2, 0), (2, 0)]

    rows[0]["subject"], rows[0]["assignees"] = "1С тормозит после обновления", "s2"
    write(tickets, "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    again = [import_file(session, entity="nodes", path=nodes), import_file(session, entity="tickets", path=tickets)]
    session.commit()
    assert [(r.created, r.updated) for r in again] == [(0, 2), (0, 2)]
    counts[Assignment] -= 1  # Иванов no longer works T-1: the file is the truth for assignees
    assert {m: count(session, m) for m in counts} == counts
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.external_id == "T-1"))
    assert ticket.subject == "1С тормозит после обновления"
    assert [(a.specialist.external_id, a.role) for a in ticket.assignees] == [("s2", "primary")]
    assert [n.name for n in ticket.nodes] == ["БП 3.0"]
    base = session.scalar(select(Node).where(Node.external_id == "n1"))
    assert [d.external_id for d in base.depends_on] == ["n2"] and base.attributes == {"platform": "8.3.24"}
    assert base.monitored is True


def test_specialist_skills_in_both_notations(directory):
    session = directory
    ivanov = session.scalar(select(Specialist).where(Specialist.external_id == "s1"))
    assert {s.group: s.level for s in ivanov.skills} == {"1c": 4, "network": 2}
    assert (ivanov.line, ivanov.active) == (2, True)
    petrov = session.scalar(select(Specialist).where(Specialist.external_id == "s2"))
    assert {s.group: s.level for s in petrov.skills} == {"workstations": 3} and petrov.capacity == 5


def test_articles_and_audit_summary(db_session, tmp_path):
    path = write(tmp_path / "kb.csv", "external_id\ttitle\tbody\tgroup\ttags\n"
                                      "A1\tОчистка очереди печати\tОстановить spooler...\tprinters\tпечать;spooler\n")
    report = import_file(db_session, entity="articles", path=path, actor="tester", delimiter="tab")
    db_session.commit()
    article = db_session.scalar(select(Article))
    assert (report.created, article.group, article.tags) == (1, "printers", ["печать", "spooler"])
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "import_articles"))
    assert (event.actor, event.data["created"], event.data["file"]) == ("tester", 1, str(path))


def test_gzip_bom_and_sniffed_semicolon(db_session, tmp_path):
    path = tmp_path / "clients.csv.gz"
    path.write_bytes(gzip.compress(("\ufeff" + CLIENTS_CSV.replace(",", ";")).encode("utf-8")))
    report = import_file(db_session, entity="clients", path=path)
    assert (report.created, report.errors) == (2, [])
    db_session.flush()
    assert db_session.scalar(select(Client.sla_policy).where(Client.external_id == "acme")) == "gold"


def test_dry_run_writes_nothing(db_session, tmp_path):
    report = import_file(db_session, entity="clients", path=write(tmp_path / "c.csv", CLIENTS_CSV), dry_run=True)
    db_session.commit()
    assert (report.created, count(db_session, Client), count(db_session, AuditEvent)) == (2, 0, 0)


def test_cp1251_with_encoding_option(db_session, tmp_path):
    path = write(tmp_path / "c.csv", CLIENTS_CSV, encoding="cp1251")
    with pytest.raises(ImportFileError, match="not valid utf-8 text"):
        import_file(db_session, entity="clients", path=path)
    assert import_file(db_session, entity="clients", path=path, encoding="cp1251").created == 2


def test_wildcard_value_and_mapped_default(sqlite_session, tmp_path):
    import_file(sqlite_session, entity="clients", path=write(tmp_path / "c.csv", CLIENTS_CSV))
    mapping = parse_mapping({"columns": {"external_id": "N", "subject": "Тема", "group": "Категория"},
                             "values": {"group": {"Сеть": "network", "*": "workstations"}},
                             "defaults": {"client": "acme", "priority": "low"}}, entity="tickets")
    path = write(tmp_path / "t.csv", "N,Тема,Категория\n1,a,сеть\n2,b,Что-то своё\n")
    assert import_file(sqlite_session, entity="tickets", path=path, mapping=mapping).errors == []
    rows = sqlite_session.execute(select(Ticket.external_id, Ticket.group, Ticket.priority, Ticket.client_id)
                                  .order_by(Ticket.external_id)).all()
    acme = sqlite_session.scalar(select(Client.id).where(Client.external_id == "acme"))
    assert [tuple(r) for r in rows] == [("1", "network", "low", acme), ("2", "workstations", "low", acme)]


# --- bad rows -----------------------------------------------------------------------------------

BAD_TICKETS = (
    "Номер,Клиент,Тема,Приоритет,Создана\n"
    "1,acme,Первая,high,2024-03-01T09:30:00+03:00\n"
    "2,acme,\"Вторая,\nмногострочная\",срочно,2024-03-01T09:30:00+03:00\n"
    "3,nobody,Третья,low,вчера\n"
    ",acme,Без номера,low,2024-03-01T09:30:00+03:00\n"
    "5,acme,Наивное время,low,2024-03-01 09:30\n"
)
BAD_MAPPING = {"columns": {"external_id": "Номер", "client": "Клиент", "subject": "Тема", "priority": "Приоритет",
                           "created_at": "Создана"}}


def test_bad_rows_are_all_reported_and_nothing_is_imported(directory, tmp_path):
    session = directory
    path = write(tmp_path / "bad.csv", BAD_TICKETS)
    report = import_file(session, entity="tickets", path=path, mapping=parse_mapping(BAD_MAPPING, entity="tickets"))
    session.commit()
    lines = [str(e) for e in report.errors]
    # Row numbers are physical line numbers: the header is line 1, the multi-line record starts on line 3.
    assert lines == [
        f"{path}:3: column Приоритет: 'срочно' is not one of low, standard, high, highest "
        "(translate it under \"values\": {\"priority\": {...}} in the mapping)",
        f"{path}:5: column Создана: 'вчера' is not a date-time (ISO 8601, e.g. 2024-03-01T09:30:00+03:00)",
        f"{path}:5: column Клиент: no client with external id or name 'nobody'",
        f"{path}:6: column Номер: external_id is required but empty",
        f"{path}:7: column Создана: '2024-03-01 09:30' has no UTC offset; add one (e.g. +03:00) "
        "or set \"timezone\" in the mapping",
    ]
    assert (report.rejected, report.imported) == (4, False)
    assert count(session, Ticket) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import_tickets")) == 0


def test_skip_invalid_imports_valid_rows_and_lists_rejected(directory, tmp_path):
    session = directory
    mapping = parse_mapping({**BAD_MAPPING, "values": {"priority": {"срочно": "highest"}},
                             "timezone": "Europe/Moscow"}, entity="tickets")
    report = import_file(session, entity="tickets", path=write(tmp_path / "bad.csv", BAD_TICKETS),
                         mapping=mapping, skip_invalid=True)
    session.commit()
    assert (report.created, report.rejected, report.imported) == (3, 2, True)
    assert sorted({e.row for e in report.errors}) == [5, 6]
    assert sorted(session.scalars(select(Ticket.external_id))) == ["1", "2", "5"]
    assert session.scalar(select(Ticket.priority).where(Ticket.external_id == "2")) == "highest"


@pytest.mark.parametrize(("row", "column", "message"), [
    ('{"external_id": "x", "name": "X", "line": 7}', "line", "7 is out of range 1..3"),
    ('{"external_id": "x", "name": "X", "line": "два"}', "line", "'два' is not a whole number"),
    ('{"external_id": "x", "name": "X", "active": "может быть"}', "active", "is not a yes/no value"),
    ('{"external_id": "x", "name": "X", "skills": "1c:9"}', "skills", "skill level of 1c must be 1..5"),
    ('{"external_id": "x", "name": "X", "skills": "cooking:2"}', "skills", "unknown skill group 'cooking'"),
    ('{"external_id": "x", "name": "X", "email": "not-an-address"}', "email", "is not an e-mail address"),
    ('{"external_id": "x", "name": "X", "timezone": "Mars/Base"}', "timezone", "unknown time zone"),
    ('{"external_id": "x", "name": "' + "Я" * 201 + '"}', "name", "too long: 201 characters, at most 200"),
    ('{"external_id": "x", "name": "X", "calendar": "25x8"}', "calendar", "'25x8' is not one of 10x5, 8x5, 24x7"),
    ('{"external_id": "x", "name": "X"', None, "invalid JSON"),
    ('["x", "X"]', None, "each line must be a JSON object"),
])
def test_each_field_error_names_line_and_column(sqlite_session, tmp_path, row, column, message):
    path = write(tmp_path / "s.jsonl", '{"external_id": "ok", "name": "OK"}\n\n' + row + "\n")
    report = import_file(sqlite_session, entity="specialists", path=path)
    assert len(report.errors) == 1 and not report.imported
    error = report.errors[0]
    assert (error.row, error.column) == (3, column)
    assert message in error.message and str(error).startswith(f"{path}:3: ")
    assert count(sqlite_session, Specialist) == 0


def test_node_reference_errors(directory, tmp_path):
    session = directory
    path = write(tmp_path / "nodes.csv",
                 "external_id,client,kind,name,depends_on\n"
                 "n1,acme,server,SRV,n1\n"
                 "n2,acme,toaster,T,\n"
                 "n3,acme,server,FS,ghost\n"
                 "n4,acme,server,FS,\n"
                 "n5,acme,server,APP,n2\n")
    report = import_file(session, entity="nodes", path=path, skip_invalid=True)
    by_row = {e.row: e.message for e in report.errors}
    assert "cannot depend on itself" in by_row[2]
    assert "'toaster' is not one of" in by_row[3]
    assert "no node of this client with external id or name 'ghost'" in by_row[4]
    assert "no node of this client with external id or name 'n2'" in by_row[6]
    assert report.created == 1  # only n4


# --- file-level errors --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "mapping", "message"), [
    ("empty.csv", "", None, "file is empty"),
    ("blank.jsonl", "\n\n", None, "file is empty"),
    ("header.csv", "external_id,name\n", None, "no data rows after the header"),
    ("clients.xlsx", "x", None, "unknown file type '.xlsx'"),
    ("latin.csv", b"external_id,name\nx,\xcf\xf0\xe8\xe2\xe5\xf2\n", None, "not valid utf-8 text (byte 0xcf"),
    ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", None, "not a valid gzip file"),
    ("dup.csv", "name,name\nx,y\n", None, "duplicate column name(s) in the header: name"),
    ("c.csv", "id,title\n1,x\n", None, "no column for required field external_id of clients"),
    ("c.csv", "id,title\n1,x\n", {"columns": {"external_id": "id", "name": "Наименование"}},
     "mapping names column 'Наименование' for name, but the file has no such column (columns: id, title)"),
    ("c.csv", "id,title\n1,x\n", {"columns": {"colour": "id"}}, "unknown field 'colour' for clients"),
    ("c.csv", "id,title\n1,x\n", {"tickets": {"columns": {}}}, "has no section for clients"),
    ("c.csv", "id,title\n1,x\n", {"columns": {"external_id": "id"}, "timezone": "Moon/Base"}, "unknown time zone"),
    ("c.csv", "id,title\n1,x\n", {"defaults": {"calendar": "25x8"}}, "defaults.calendar: '25x8' is not one of"),
])
def test_file_level_errors(sqlite_session, tmp_path, name, content, mapping, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ImportFileError) as caught:
        parsed = parse_mapping(mapping, entity="clients") if mapping is not None else None
        import_file(sqlite_session, entity="clients", path=path, mapping=parsed)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert count(sqlite_session, Client) == 0


def test_missing_file_unknown_entity_and_bad_mapping_json(sqlite_session, tmp_path):
    with pytest.raises(ImportFileError, match="file not found"):
        import_file(sqlite_session, entity="clients", path=tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="unknown entity 'invoices'"):
        import_file(sqlite_session, entity="invoices", path=tmp_path / "nope.csv")
    bad = write(tmp_path / "m.json", '{"columns": {"name": "Имя",}}')
    with pytest.raises(ImportFileError, match=r"m.json: invalid JSON at line 1 column 28"):
        load_mapping(bad, entity="clients")
    with pytest.raises(ImportFileError, match="mapping file not found"):
        load_mapping(tmp_path / "absent.json", entity="clients")


# --- properties ---------------------------------------------------------------------------------

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(table=st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=6),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_csv_cells_and_row_numbers_survive_any_quoting(tmp_path_factory, table, delimiter):
    """Whatever the cells hold (quotes, delimiters, newlines), values round-trip and each row number is the
    line on which its record starts."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["a", "b", "c"])
    starts, line = [], 2
    for record in table:
        starts.append(line)
        before = buffer.tell()
        writer.writerow(record)
        line += buffer.getvalue()[before:].count("\n")
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    kept = [(n, r) for n, r in zip(starts, table, strict=True) if any(c.strip() for c in r)]
    if not kept:
        with pytest.raises(ImportFileError):
            read_source(path, delimiter=delimiter)
        return
    source = read_source(path, delimiter=delimiter)
    assert [(r.number, [r.values["a"], r.values["b"], r.values["c"]]) for r in source.rows] == kept


@given(st.integers(min_value=-10**6, max_value=10**6), st.sampled_from(["{}", " {} ", "{}.0", "+{}"]))
def test_whole_numbers_parse_in_every_spelling(number, template):
    spec = next(f for f in FIELDS["specialists"] if f.name == "capacity")
    text = template.format(number).replace("+-", "-")
    if 0 <= number <= 1000:
        assert convert_value(spec, text, Mapping()) == number
    else:
        with pytest.raises(ValueError, match="out of range"):
            convert_value(spec, text, Mapping())
