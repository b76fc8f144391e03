"""Schema round trips on SQLite and PostgreSQL, and migrations from empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select, text

from kb import migrate
from kb.db import make_engine
from kb.models import (
    Absence,
    Article,
    AuditEvent,
    Client,
    Comment,
    KnownProblem,
    Node,
    Skill,
    SlaPause,
    Specialist,
    Ticket,
    TimeEntry,
)
from kb.queries.tickets import get_ticket, list_tickets


def test_migrations_from_empty_create_every_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    assert migrate.current_revision(url) is None
    migrate.upgrade(url)
    assert migrate.current_revision(url) is not None
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    from kb.models import Base

    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_full_ticket_round_trip(db_session):
    moscow = timezone(timedelta(hours=3))
    engineer = Specialist(name="Иван Петров", line=2, capacity=8, partner=None)
    engineer.skills.append(Skill(group="1c", level=4))
    engineer.absences.append(
        Absence(starts_at=datetime(2026, 1, 5, tzinfo=UTC), ends_at=datetime(2026, 1, 9, tzinfo=UTC))
    )
    client = Client(name="ООО Ромашка", sla_policy="gold", calendar="24x7", timezone="Asia/Novosibirsk",
                    field_engineer=engineer)
    server = Node(client=client, kind="server", name="srv-ad01", attributes={"os": "Windows Server 2019"},
                  criticality="critical", monitored=True)
    base = Node(client=client, kind="1c_base", name="1C Бухгалтерия", depends_on=[server])
    opened = datetime(2026, 3, 2, 9, 30, tzinfo=moscow)
    ticket = Ticket(client=client, subject="Не запускается 1С", description="Ошибка СУБД", priority="high",
                    group="1c", status="resolved", created_at=opened, resolved_at=opened + timedelta(hours=2),
                    resolution="Перезапущен сервер 1С", nodes=[base], fixed_price=Decimal("1500.50"))
    ticket.comments.append(Comment(author="Иван Петров", body="Смотрю", public=True))
    ticket.time_entries.append(TimeEntry(specialist=engineer, started_at=opened, minutes=45, on_site=True))
    ticket.pauses.append(SlaPause(started_at=opened, ended_at=opened + timedelta(minutes=10)))
    problem = KnownProblem(title="Падение службы 1С", symptoms="...", incidents=[ticket])
    db_session.add_all([client, ticket, problem, Article(title="Перезапуск 1С", body="Шаги")])
    db_session.add(AuditEvent(entity="ticket", entity_id=1, action="create", actor="test", data={"k": "в"}))
    db_session.commit()
    db_session.expunge_all()

    stored = get_ticket(db_session, ticket_id=ticket.id)
    assert stored.created_at == opened
    assert stored.created_at.tzinfo is not None
    assert stored.fixed_price == Decimal("1500.50")
    assert [n.name for n in stored.nodes] == ["1C Бухгалтерия"]
    assert stored.nodes[0].depends_on[0].name == "srv-ad01"
    assert stored.nodes[0].depends_on[0].attributes == {"os": "Windows Server 2019"}
    assert stored.comments[0].body == "Смотрю"
    assert stored.time_entries[0].specialist.skills[0].level == 4
    assert stored.pauses[0].ended_at - stored.pauses[0].started_at == timedelta(minutes=10)
    assert stored.client.field_engineer.absences[0].starts_at == datetime(2026, 1, 5, tzinfo=UTC)
    kp = db_session.scalar(select(KnownProblem))
    assert [t.id for t in kp.incidents] == [ticket.id]
    assert db_session.scalar(select(AuditEvent)).data == {"k": "в"}


def test_naive_datetimes_are_refused(db_session):
    client = Client(name="X")
    db_session.add(Ticket(client=client, subject="s", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db_session.commit()
    db_session.rollback()


def test_list_tickets_filters_and_counts(db_session):
    a, b = Client(name="A"), Client(name="B")
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        db_session.add(Ticket(client=a if i % 2 else b, subject=f"t{i}", priority="high" if i < 2 else "low",
                              created_at=base + timedelta(days=i)))
    db_session.commit()
    rows, total = list_tickets(db_session, client_id=a.id)
    assert total == 2 and [t.subject for t in rows] == ["t3", "t1"]
    rows, total = list_tickets(db_session, priority="high", limit=1)
    assert total == 2 and len(rows) == 1 and rows[0].subject == "t1"


def test_migration_0012_adds_the_client_manager_flag_false_for_existing_users(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0011")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (username, password_hash, role, active, session_version, "
                                "created_at) VALUES ('engineer', 'x', 'engineer_l1', 1, 0, '2026-11-01 00:00:00')"))
    engine.dispose()
    migrate.upgrade(url)
    assert migrate.current_revision(url) == "0012"
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT client_manager FROM users")).scalar_one() in (0, False)
    engine.dispose()
    migrate.downgrade(url, "0011")
    engine = make_engine(url)
    assert "client_manager" not in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()


def test_migrations_match_the_models(tmp_path):
    # A model change without its migration (or the reverse) would leave migrated databases behind.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from kb.models import Base

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
