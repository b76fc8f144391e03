"""The unit of work: one commit, effects only after it, nothing half-written on an error."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from kb.models import Client
from service.platform.unit_of_work import unit_of_work


def clients(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Client))


def test_commits_once_then_runs_effects_in_order(db_session):
    seen = []
    with unit_of_work(db_session) as uow:
        db_session.add(Client(name="ООО Ромашка"))
        uow.after_commit("first", lambda: seen.append(("first", clients(db_session))))
        uow.after_commit("second", lambda: seen.append(("second", clients(db_session))))
        assert seen == []
    assert seen == [("first", 1), ("second", 1)]


def test_an_error_rolls_back_and_runs_no_effect(db_session):
    seen = []
    with pytest.raises(ValueError), unit_of_work(db_session) as uow:
        db_session.add(Client(name="ООО Ромашка"))
        db_session.flush()
        uow.after_commit("mail", lambda: seen.append("mail"))
        raise ValueError("bad field")
    assert clients(db_session) == 0 and seen == []


def test_a_failing_effect_is_logged_and_never_undoes_the_change(db_session, caplog):
    seen = []
    with caplog.at_level(logging.ERROR), unit_of_work(db_session) as uow:
        db_session.add(Client(name="ООО Ромашка"))
        uow.after_commit("mail", lambda: 1 / 0)
        uow.after_commit("signal", lambda: seen.append("signal"))
    assert clients(db_session) == 1 and seen == ["signal"]
    assert "mail failed after commit" in caplog.text
