"""``precedent clients``: registering the contacts and mail domains that e-mail intake trusts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kb.db import make_engine, make_session_factory
from kb.models import AuditEvent, Client
from service.cli import main


@pytest.fixture
def store(sqlite_url, monkeypatch):
    monkeypatch.setenv("PRECEDENT_DATABASE_URL", sqlite_url)
    session = make_session_factory(make_engine(sqlite_url))()
    session.add_all([Client(name="ООО Ромашка"), Client(name="АО Вектор", email_domains=["vector.example"])])
    session.commit()
    yield session
    session.close()


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_contacts_and_domains_are_registered_and_audited(store):
    assert run("clients", "add-contact", "1", "P.Petrov@Romashka.RU", "--name", "Пётр").exit_code == 0
    assert run("clients", "domains", "1", "romashka.ru", "@romashka-filial.ru").exit_code == 0
    shown = json.loads(run("clients", "contacts", "1").output)
    assert shown["contacts"] == [{"email": "p.petrov@romashka.ru", "name": "Пётр"}]
    assert shown["email_domains"] == ["romashka.ru", "romashka-filial.ru"]
    store.expire_all()
    assert [e.action for e in store.query(AuditEvent).order_by(AuditEvent.id)] == ["contact_added", "mail_domains"]
    assert run("clients", "remove-contact", "p.petrov@romashka.ru").exit_code == 0
    assert json.loads(run("clients", "contacts", "1").output)["contacts"] == []


@pytest.mark.parametrize(("args", "message"), [
    (("add-contact", "1", "not-an-address"), "email: 'not-an-address' is not an e-mail address"),
    (("add-contact", "9", "a@b.ru"), "client: client 9 not found"),
    (("domains", "1", "vector.example"), "domain: vector.example is already registered for client 2"),
    (("domains", "1", "no domain"), "domain: 'no domain' is not a mail domain"),
    (("remove-contact", "nobody@b.ru"), "email: nobody@b.ru is not a registered contact"),
])
def test_bad_registrations_name_what_is_wrong_and_change_nothing(store, args, message):
    result = run("clients", *args)
    assert result.exit_code == 2 and message in result.output
    store.expire_all()
    assert store.get(Client, 1).email_domains == [] and store.query(AuditEvent).count() == 0


def test_one_address_belongs_to_one_client(store):
    assert run("clients", "add-contact", "1", "a@romashka.ru").exit_code == 0
    result = run("clients", "add-contact", "2", "A@romashka.ru")
    assert result.exit_code == 2 and "already a contact of client 1" in result.output
