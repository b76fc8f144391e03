"""Knowledge articles and known problems: the write use cases.

Each use case runs as one unit of work: it checks what needs the store (the thing exists, the linked
incidents exist), changes the session, writes its audit event, commits once, and only then announces the
change through ``service.platform.signals.knowledge_changed`` so the search index picks it up.  The API
parses and type-checks the fields before it calls them (``service/api/knowledge.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import Article, KnownProblem, Ticket
from kb.queries import audit
from kb.queries import knowledge as queries
from service.platform import signals
from service.platform.unit_of_work import UnitOfWork, signal_sender, unit_of_work

ARTICLE = "article"
KNOWN_PROBLEM = "known_problem"
PROBLEM_STATUSES = ("open", "known", "fixed")
#: The fields a caller may set, per kind (a known problem's incidents are given as ``incident_ids``).
ARTICLE_FIELDS = ("title", "body", "group")
PROBLEM_FIELDS = ("title", "symptoms", "cause", "workaround", "group", "status")


class KnowledgeError(Exception):
    """Base of the knowledge use cases' refusals; ``field`` names what is wrong."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class KnowledgeNotFound(KnowledgeError, LookupError):
    """No article / known problem with that id (HTTP 404)."""


class KnowledgeInputError(KnowledgeError, ValueError):
    """A field is not acceptable (HTTP 422)."""


# --- helpers (no commit) ------------------------------------------------------------------------------


def get_article(session: Session, article_id: int) -> Article:
    """The article, or :class:`KnowledgeNotFound`."""
    article = queries.get_article(session, article_id=article_id)
    if article is None:
        raise KnowledgeNotFound(f"article {article_id} not found", "id")
    return article


def get_known_problem(session: Session, problem_id: int) -> KnownProblem:
    """The known problem with its incidents, or :class:`KnowledgeNotFound`."""
    problem = queries.get_known_problem(session, problem_id=problem_id)
    if problem is None:
        raise KnowledgeNotFound(f"known problem {problem_id} not found", "id")
    return problem


def _checked_fields(fields: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise KnowledgeInputError(f"unknown field {unknown[0]!r}", unknown[0])
    return dict(fields)


def _incidents(session: Session, incident_ids: Sequence[int]) -> list[Ticket]:
    """The tickets a known problem links to, or :class:`KnowledgeInputError` naming the missing ones."""
    ids = list(incident_ids)
    incidents = list(session.scalars(select(Ticket).where(Ticket.id.in_(ids)))) if ids else []
    missing = sorted(set(ids) - {t.id for t in incidents})
    if missing:
        raise KnowledgeInputError(f"incident_ids: no tickets {missing}", "incident_ids")
    return incidents


def _announce(uow: UnitOfWork, kind: str, ref: int, *, deleted: bool = False) -> None:
    """Tell the search index, once the change is committed."""
    sender = signal_sender()
    uow.after_commit("knowledge_changed", lambda: signals.knowledge_changed.send(
        sender, kind=kind, ref=ref, deleted=deleted))


def _stage_new(uow: UnitOfWork, kind: str, item: Article | KnownProblem, actor: str) -> None:
    uow.session.add(item)
    uow.session.flush()
    audit.record(uow.session, entity=kind, entity_id=item.id, action="create", actor=actor)
    _announce(uow, kind, item.id)


def _stage_changes(uow: UnitOfWork, kind: str, item: Article | KnownProblem, changes: Mapping[str, Any],
                   actor: str) -> None:
    for name, value in changes.items():
        setattr(item, name, value)
    audit.record(uow.session, entity=kind, entity_id=item.id, action="update", actor=actor, fields=sorted(changes))
    _announce(uow, kind, item.id)


# --- articles ---------------------------------------------------------------------------------------


def create_article(session: Session, *, actor: str, fields: Mapping[str, Any]) -> Article:
    """Write a new article (``title``, ``body``, ``group``); audited, committed, announced."""
    with unit_of_work(session) as uow:
        article = Article(**_checked_fields(fields, ARTICLE_FIELDS))
        _stage_new(uow, ARTICLE, article, actor)
    return article


def update_article(session: Session, *, article_id: int, actor: str, changes: Mapping[str, Any]) -> Article:
    """Change an article's title, body or group; audited (which fields), committed, announced."""
    with unit_of_work(session) as uow:
        changes = _checked_fields(changes, ARTICLE_FIELDS)
        article = get_article(session, article_id)
        _stage_changes(uow, ARTICLE, article, changes, actor)
    return article


def delete_article(session: Session, *, article_id: int, actor: str) -> None:
    """Delete an article (it leaves the search index too); the audit event keeps its title."""
    with unit_of_work(session) as uow:
        article = get_article(session, article_id)
        audit.record(session, entity=ARTICLE, entity_id=article.id, action="delete", actor=actor,
                     title=article.title)
        session.delete(article)
        _announce(uow, ARTICLE, article_id, deleted=True)


# --- known problems -----------------------------------------------------------------------------------


def create_known_problem(session: Session, *, actor: str, fields: Mapping[str, Any],
                         incident_ids: Sequence[int] | None = None) -> KnownProblem:
    """Record a known problem, linked to the existing tickets ``incident_ids``; audited, committed, announced."""
    with unit_of_work(session) as uow:
        values = _checked_fields(fields, PROBLEM_FIELDS)
        if incident_ids is not None:
            values["incidents"] = _incidents(session, incident_ids)
        problem = KnownProblem(**values)
        _stage_new(uow, KNOWN_PROBLEM, problem, actor)
    return problem


def update_known_problem(session: Session, *, problem_id: int, actor: str, changes: Mapping[str, Any],
                         incident_ids: Sequence[int] | None = None) -> KnownProblem:
    """Change a known problem; ``incident_ids`` (when given) replaces its linked incidents."""
    with unit_of_work(session) as uow:
        problem = get_known_problem(session, problem_id)
        values = _checked_fields(changes, PROBLEM_FIELDS)
        if incident_ids is not None:
            values["incidents"] = _incidents(session, incident_ids)
        _stage_changes(uow, KNOWN_PROBLEM, problem, values, actor)
    return problem
