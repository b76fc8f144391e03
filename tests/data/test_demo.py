"""The demo generator: determinism, shape, text variety, round trips on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from datetime import UTC

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from data.demo import HISTORY_END, DemoError, build_demo, demo_usernames
from kb import migrate, vocab
from kb.db import make_engine, make_session_factory
from kb.models import (
    Article,
    Assignment,
    Base,
    Client,
    KnownProblem,
    Node,
    SlaPause,
    Specialist,
    Ticket,
    TimeEntry,
    User,
    known_problem_tickets,
)

SMALL = 300


def _build(url: str, **kwargs) -> dict:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return build_demo(session, **kwargs)
    finally:
        engine.dispose()


def _dump(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, ordered, except salted password hashes."""
    engine = make_engine(url)
    result = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "password_hash"]
            rows = connection.execute(select(*columns).order_by(*table.primary_key.columns)).all()
            result[table.name] = [tuple(row) for row in rows]
    engine.dispose()
    return result


@pytest.fixture
def built(sqlite_url):
    """A SQLite store holding a small demo (seed 7)."""
    counts = _build(sqlite_url, seed=7, tickets=SMALL)
    engine = make_engine(sqlite_url)
    session = make_session_factory(engine)()
    yield session, counts
    session.close()
    engine.dispose()


def test_same_seed_gives_identical_rows_and_another_seed_differs(tmp_path):
    urls = []
    for name in ("a", "b", "c"):
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        migrate.upgrade(url)
        urls.append(url)
    _build(urls[0], seed=11, tickets=SMALL)
    _build(urls[1], seed=11, tickets=SMALL)
    _build(urls[2], seed=12, tickets=SMALL)
    first, second, other = (_dump(u) for u in urls)
    assert first == second
    assert first["tickets"] != other["tickets"]
    assert [r[0] for r in first["tickets"]] == [r[0] for r in other["tickets"]]  # same ids, different content


def test_shape_of_the_demo(built):
    session, counts = built
    assert 5 <= session.scalar(select(func.count()).select_from(Client)) <= 6
    per_client = session.execute(select(Node.client_id, func.count()).group_by(Node.client_id)).all()
    assert all(30 <= n <= 80 for _, n in per_client)
    assert 13 <= session.scalar(select(func.count()).select_from(Specialist)) <= 17
    assert session.scalar(select(func.count()).select_from(Ticket)) == SMALL
    assert session.scalar(select(func.count()).select_from(Article)) >= 60
    problems = session.scalars(select(KnownProblem)).all()
    assert len(problems) >= 20
    linked = session.scalar(select(func.count(func.distinct(known_problem_tickets.c.known_problem_id))))
    assert linked >= len(problems) * 0.7
    clients = session.scalars(select(Client)).all()
    assert {c.calendar for c in clients} == set(vocab.CALENDARS)
    assert {c.timezone for c in clients} == {"Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk"}
    assert len({c.sla_policy for c in clients}) >= 5
    assert all(c.field_engineer_id and c.manager for c in clients)
    kinds = set(session.scalars(select(Node.kind)))
    assert {"1c_base", "vpn_gateway", "pbx", "printer", "retail_device", "camera", "mail"} <= kinds
    devices = {n.attributes.get("device") for n in session.scalars(select(Node).where(Node.kind == "retail_device"))}
    assert devices == {"fiscal", "scales", "label", "scanner"}
    partners = session.scalars(select(Specialist).where(Specialist.partner.is_not(None))).all()
    assert partners and all(p.region for p in partners)
    partner_regions = {p.region for p in partners}
    assert session.scalar(select(func.count()).select_from(Node).where(Node.region.in_(partner_regions))) > 0
    assert {s.line for s in session.scalars(select(Specialist))} == {1, 2, 3}
    assert counts["users"] == len(demo_usernames())
    # every client's own login is its company's manager; one plain client user shows the difference
    managers = dict(session.execute(select(User.username, User.client_manager).where(User.role == "client")).all())
    assert managers.pop("client-uts-office") is False and managers and all(managers.values())


def test_ticket_fields_and_timelines_are_consistent(built):
    session, _ = built
    tickets = session.scalars(select(Ticket)).all()
    assert Counter(t.priority for t in tickets).keys() <= set(vocab.PRIORITIES)
    assert {t.group for t in tickets} <= set(vocab.GROUPS) and len({t.group for t in tickets}) >= 9
    assert {t.status for t in tickets} <= set(vocab.STATUSES)
    done = [t for t in tickets if t.status in ("resolved", "closed")]
    assert len(done) / len(tickets) > 0.8
    for ticket in tickets:
        assert ticket.created_at.tzinfo is not None and ticket.created_at <= HISTORY_END
        moments = [ticket.created_at, ticket.reacted_at, ticket.work_started_at, ticket.resolved_at, ticket.closed_at]
        present = [m for m in moments if m is not None]
        assert present == sorted(present) and present[-1] <= HISTORY_END
        if ticket.status in ("resolved", "closed"):
            assert ticket.resolution and ticket.resolved_at
        else:
            assert ticket.resolved_at is None
        if ticket.channel == "monitoring":
            assert ticket.alert_fingerprint and ticket.alert_severity in ("critical", "warning")
    entries = session.scalars(select(TimeEntry)).all()
    assert entries and all(0 < e.minutes <= 600 for e in entries)
    assert {e.on_site for e in entries} == {True, False}
    assert session.scalar(select(func.count()).select_from(SlaPause)) > 0
    assert session.scalar(select(func.count()).select_from(Assignment)) >= len(tickets) * 0.9



def test_timelines_run_in_the_sla_engines_calendar(built):
    """Reaction, work start and resolution fall in the client's SLA calendar (service.sla.calendar, holidays
    and transferred working Saturdays included), work flagged off-hours lies outside it, and most tickets of a
    working-hours client are created on its working days."""
    from service.sla.policies import get_policy
    from service.sla.service import client_calendar

    session, _ = built
    calendars = {c.id: (c, client_calendar(c, get_policy(c.sla_policy))) for c in session.scalars(select(Client))}
    office = 0
    on_days_off = 0
    for ticket in session.scalars(select(Ticket)):
        client, calendar = calendars[ticket.client_id]
        for moment in (ticket.reacted_at, ticket.work_started_at, ticket.resolved_at):
            assert moment is None or calendar.is_working_time(moment), (ticket.id, moment)
        if client.calendar != "24x7":
            office += 1
            on_days_off += not calendar.is_working_day(ticket.created_at.astimezone(client.zone).date())
    assert office and on_days_off < 0.1 * office
    flagged = session.execute(select(TimeEntry.started_at, Ticket.client_id).join(Ticket)
                              .where(TimeEntry.off_hours_agreed.is_(True))).all()
    assert flagged and not any(calendars[client_id][1].is_working_time(at) for at, client_id in flagged)


def test_histories_are_paths_of_the_workflow(built):
    """Every ticket's audit trail reads like one the workflow wrote: ``create`` with the workflow's data, then
    one allowed transition per event (each from the previous one's status), ending in the ticket's status."""
    from kb.models import AuditEvent
    from service.tickets.transitions import TRANSITIONS, next_status

    session, _ = built
    trails: dict[int, list[AuditEvent]] = {}
    for event in session.scalars(select(AuditEvent).where(AuditEvent.entity == "ticket")
                                 .order_by(AuditEvent.at, AuditEvent.id)):
        trails.setdefault(event.entity_id, []).append(event)
    tickets = session.scalars(select(Ticket)).all()
    actions = Counter()
    for ticket in tickets:
        create, *steps = trails[ticket.id]
        # besides the workflow's steps, only the contracts step's billing events (stop work, operations)
        assert all(e.action in TRANSITIONS or e.action.startswith("billing.") for e in steps)
        steps = [e for e in steps if e.action in TRANSITIONS]
        assert create.action == "create" and create.at == ticket.created_at
        assert create.data == {"from": None, "to": "new", "channel": ticket.channel, "priority": ticket.priority,
                               "group": ticket.group, "triaged_by": "caller", "needs_human": False}
        status, working = "new", None
        for event in steps:
            assert event.data["from"] == status, (ticket.id, event.action, event.data)
            status = next_status(status, event.action, previous_working=working)
            assert event.data["to"] == status and "reason" in event.data
            if event.action == "request_info":
                working = event.data["from"]
            actions[event.action] += 1
        assert status == ticket.status, ticket.id
        take = [e for e in steps if e.action == "take"]
        if ticket.work_started_at is not None:
            primary = next(a.specialist_id for a in ticket.assignees if a.role == "primary")
            assert take and take[0].at == ticket.work_started_at and take[0].data["specialist_id"] == primary
        if ticket.reacted_at is not None:
            assert steps[0].action == "triage" and steps[0].at == ticket.reacted_at
    assert {"triage", "take", "resolve", "request_info", "client_replied"} <= set(actions)
    assert {"confirm", "close"} & set(actions)

def test_priorities_are_skewed_like_a_real_desk(built):
    session, _ = built
    share = Counter(session.scalars(select(Ticket.priority)))
    assert share["standard"] > share["highest"] and share["low"] > share["highest"]
    assert share["highest"] > 0


def test_text_varies_like_real_tickets(built):
    session, _ = built
    tickets = session.scalars(select(Ticket).where(Ticket.channel != "monitoring")).all()
    descriptions = [t.description for t in tickets]
    assert len(set(descriptions)) / len(descriptions) > 0.97
    assert len({d[:50] for d in descriptions}) / len(descriptions) > 0.6
    assert len({t.subject for t in tickets}) / len(tickets) > 0.3
    lengths = [len(d) for d in descriptions]
    assert max(lengths) > 4 * min(lengths) and statistics.pstdev(lengths) > 40
    joined = "\n".join(descriptions)
    assert "С уважением" in joined and "Добрый день" in joined
    assert any(ch.isascii() and ch.isalpha() for ch in joined)  # English terms and codes are mixed in


def test_similar_problems_get_similar_resolutions(built):
    session, _ = built
    resolutions = [t.resolution for t in session.scalars(select(Ticket).where(Ticket.resolution.is_not(None)))]
    # A fix is phrased a handful of ways, so resolutions repeat their core far more than descriptions do.
    cores = Counter(r.split(". ")[0][-40:] for r in resolutions)
    assert cores.most_common(1)[0][1] >= 3


def test_refuses_a_non_empty_database_and_replaces_with_flag(sqlite_url):
    _build(sqlite_url, seed=3, tickets=50)
    with pytest.raises(DemoError, match="--replace"):
        _build(sqlite_url, seed=3, tickets=50)
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        from service.platform.auth import create_user

        create_user(session, username="someone", password="long enough pw", role="analyst")
        session.commit()
    counts = _build(sqlite_url, seed=4, tickets=60, replace=True)
    assert counts["tickets"] == 60
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 60
        usernames = set(session.scalars(select(User.username)))
        assert "someone" in usernames and set(demo_usernames()) <= usernames
    engine.dispose()


def test_rejects_zero_tickets(sqlite_url):
    with pytest.raises(DemoError, match="tickets"):
        _build(sqlite_url, tickets=0)


def test_round_trip_on_both_backends(database_url):
    counts = _build(database_url, seed=5, tickets=120, contracts=False)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == counts["tickets"] == 120
        ticket = session.scalars(select(Ticket).where(Ticket.status == "closed").order_by(Ticket.id)).first()
        assert ticket.nodes and ticket.assignees and ticket.comments and ticket.time_entries
        assert ticket.created_at.tzinfo == UTC
        problem = session.scalars(select(KnownProblem).where(KnownProblem.incidents.any())).first()
        assert problem is not None and problem.incidents
        node = session.scalars(select(Node).where(Node.depends_on.any())).first()
        assert node.depends_on
        # Explicit ids must not break later inserts (PostgreSQL sequences are moved past them).
        client = session.scalars(select(Client)).first()
        new = Ticket(client_id=client.id, subject="после демо", description="", created_at=HISTORY_END)
        session.add(new)
        session.commit()
        assert new.id == 121
    engine.dispose()


def test_cli_builds_refuses_and_replaces(tmp_path, monkeypatch):
    from service.cli import main

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "build", "--tickets", "80", "--seed", "9", "--database-url", url])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"]["tickets"] == 80 and report["seed"] == 9
    again = runner.invoke(main, ["demo", "build", "--tickets", "80", "--database-url", url])
    assert again.exit_code == 2 and "--replace" in again.output
    replaced = runner.invoke(main, ["demo", "build", "--tickets", "90", "--database-url", url, "--replace",
                                    "--no-contracts"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(replaced.output)["rows"]["tickets"] == 90
    bad = runner.invoke(main, ["demo", "build", "--tickets", "-3", "--database-url", url])
    assert bad.exit_code == 2 and "--tickets" in bad.output


def test_cli_names_a_missing_generator_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DEMO_DIR", str(tmp_path / "nowhere"))
    from service.cli import main

    result = CliRunner().invoke(main, ["demo", "build", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite3'}"])
    assert result.exit_code == 2 and "PRECEDENT_DEMO_DIR" in result.output



def test_cli_imports_the_generator_as_the_data_demo_package(tmp_path, monkeypatch):
    import data.demo
    from service.cli.demo import demo_folder, load_generator

    assert load_generator(demo_folder()) is data.demo
    other = tmp_path / "checkout" / "data" / "demo"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    monkeypatch.setenv("PRECEDENT_DEMO_DIR", str(other))
    monkeypatch.setattr(sys, "path", [*sys.path])  # the checkout root it appends goes with the test
    from service.cli import main

    result = CliRunner().invoke(main, ["demo", "build", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite3'}"])
    assert result.exit_code == 2 and "PRECEDENT_DEMO_DIR" in result.output and "imported from" in result.output

def test_a_failing_contracts_step_is_reported_and_keeps_the_knowledge_base(sqlite_url, monkeypatch):
    from data.demo import contracts

    def broken(session, *, seed):
        raise ValueError("terms are invalid")

    monkeypatch.setattr(contracts, "build_contracts", broken)
    counts = _build(sqlite_url, seed=2, tickets=40)
    assert counts["contracts"] == 0 and "terms are invalid" in counts["contracts_error"]
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 40
    engine.dispose()


def test_the_demo_partner_serves_a_clients_regional_offices_and_has_a_login(built):
    from kb.models import Partner
    from service.platform.auth import partner_ticket_ids

    session, _ = built
    partner = session.scalars(select(Partner)).one()
    offices = {n.region for n in session.scalars(select(Node).where(Node.region.is_not(None)))}
    assert set(partner.regions) <= offices
    engineers = session.scalars(select(Specialist).where(Specialist.partner_id == partner.id)).all()
    assert len(engineers) >= 1 and all(e.partner == partner.name for e in engineers)
    login = session.scalars(select(User).where(User.username == "partner-ural")).one()
    assert (login.role, login.partner_id) == ("partner_engineer", partner.id)
    theirs = set(session.scalars(partner_ticket_ids(partner.id)))
    assert 0 < len(theirs) < session.scalar(select(func.count()).select_from(Ticket))


def test_the_demo_partner_has_live_work_in_several_states(tmp_path):
    """The partner's engineers are sent to the open tickets of its regions: ``partner-ural`` has open tickets in
    more than one status, one reached on site by its engineer and one it has not reacted to."""
    from kb.models import Partner
    from service.tickets.partner_worklist import partner_worklist

    url = f"sqlite:///{tmp_path / 'full.sqlite3'}"
    migrate.upgrade(url)
    _build(url, users=False, contracts=False)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        partner = session.scalars(select(Partner)).one()
        rows = partner_worklist(session, partner_id=partner.id, status="open").rows
        assert len({row.ticket.status for row in rows}) >= 3
        assert any(row.targets["onsite"]["state"] == "met" for row in rows)
        assert any(row.targets["reaction"]["reached_at"] is None for row in rows)
    engine.dispose()
