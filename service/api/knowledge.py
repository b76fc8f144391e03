"""Knowledge articles and known problems: read for everyone on staff, written by engineers.

Every write is audited and announces itself through ``service.signals.knowledge_changed`` after the
commit, so the search index picks it up.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from kb import vocab
from kb.models import Article, KnownProblem, Ticket
from kb.queries import audit
from kb.queries import knowledge as queries
from service.api.tickets import choice_arg, int_arg
from service.platform import db, signals
from service.platform.auth import current_user
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.serializers import iso
from service.platform.validation import choice, integer_list, json_body, string, text_problem

bp = Blueprint("knowledge", __name__, url_prefix="/api/v1")

PROBLEM_STATUSES = ("open", "known", "fixed")


def article_dict(article: Article) -> dict:
    return {"id": article.id, "external_id": article.external_id, "title": article.title, "body": article.body,
            "group": article.group, "tags": article.tags, "created_at": iso(article.created_at),
            "updated_at": iso(article.updated_at)}


def problem_dict(problem: KnownProblem) -> dict:
    return {"id": problem.id, "external_id": problem.external_id, "title": problem.title,
            "symptoms": problem.symptoms, "cause": problem.cause, "workaround": problem.workaround,
            "group": problem.group, "status": problem.status, "incident_ids": sorted(t.id for t in problem.incidents),
            "created_at": iso(problem.created_at), "updated_at": iso(problem.updated_at)}


def _announce(kind: str, ref: int, *, deleted: bool = False) -> None:
    signals.knowledge_changed.send(current_app._get_current_object(), kind=kind, ref=ref, deleted=deleted)


def _actor() -> str:
    return current_user().username


def _store_new(kind: str, item: Article | KnownProblem) -> None:
    """Add, audit and commit a new article or known problem, then announce it to the index."""
    session = db.session()
    session.add(item)
    session.flush()
    audit.record(session, entity=kind, entity_id=item.id, action="create", actor=_actor())
    session.commit()
    _announce(kind, item.id)


def _store_changes(kind: str, item: Article | KnownProblem, changes: dict) -> None:
    """Apply, audit and commit an edit, then announce it to the index."""
    for name, value in changes.items():
        setattr(item, name, value)
    audit.record(db.session(), entity=kind, entity_id=item.id, action="update", actor=_actor(),
                 fields=sorted(changes))
    db.session().commit()
    _announce(kind, item.id)


# --- articles -----------------------------------------------------------------------------------


@bp.get("/articles")
@permit("knowledge.read")
def list_articles():
    """Knowledge articles, newest first; ?group=, ?q= (substring), ?limit=, ?offset=."""
    rows, total = queries.list_articles(
        db.session(), group=choice_arg("group", vocab.GROUPS), text=_text_arg("q"),
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0))
    return jsonify({"total": total, "items": [article_dict(a) for a in rows]})


@bp.get("/articles/<int:article_id>")
@permit("knowledge.read")
def get_article(article_id: int):
    """One knowledge article."""
    return jsonify(article_dict(_article_or_404(article_id)))


def _text_arg(name: str) -> str | None:
    """A free-text query argument, or a 400 naming it when the database cannot compare it (a NUL byte)."""
    raw = request.args.get(name) or None
    problem = text_problem(raw) if raw is not None else None
    if problem is not None:
        raise ApiError(400, f"{name} {problem}", field=name)
    return raw


def _article_or_404(article_id: int) -> Article:
    article = queries.get_article(db.session(), article_id=article_id)
    if article is None:
        raise ApiError(404, f"article {article_id} not found", field="id")
    return article


def _article_fields(data: dict, *, partial: bool) -> dict:
    fields = {
        "title": string(data, "title", required=not partial, max_length=500),
        "body": string(data, "body", required=not partial, max_length=100_000),
        "group": choice(data, "group", vocab.GROUPS),
    }
    return {k: v for k, v in fields.items() if k in data or not partial}


@bp.post("/articles")
@permit("knowledge.edit")
def create_article():
    """Write a new knowledge article: {"title", "body", "group"?}."""
    article = Article(**_article_fields(json_body(), partial=False))
    _store_new("article", article)
    return jsonify(article_dict(article)), 201


@bp.patch("/articles/<int:article_id>")
@permit("knowledge.edit")
def update_article(article_id: int):
    """Edit an article's title, body or group."""
    changes = _article_fields(json_body(), partial=True)
    article = _article_or_404(article_id)
    _store_changes("article", article, changes)
    return jsonify(article_dict(article))


@bp.delete("/articles/<int:article_id>")
@permit("knowledge.delete")
def delete_article(article_id: int):
    """Delete an article (it leaves the search index too)."""
    article = _article_or_404(article_id)
    session = db.session()
    audit.record(session, entity="article", entity_id=article.id, action="delete", actor=_actor(),
                 title=article.title)
    session.delete(article)
    session.commit()
    _announce("article", article_id, deleted=True)
    return "", 204


# --- known problems -----------------------------------------------------------------------------


def _problem_or_404(problem_id: int) -> KnownProblem:
    problem = queries.get_known_problem(db.session(), problem_id=problem_id)
    if problem is None:
        raise ApiError(404, f"known problem {problem_id} not found", field="id")
    return problem


def _problem_fields(data: dict, *, partial: bool) -> dict:
    fields = {
        "title": string(data, "title", required=not partial, max_length=500),
        "symptoms": string(data, "symptoms", max_length=50_000, default=""),
        "cause": string(data, "cause", max_length=50_000, default=""),
        "workaround": string(data, "workaround", max_length=50_000, default=""),
        "group": choice(data, "group", vocab.GROUPS),
        "status": choice(data, "status", PROBLEM_STATUSES, default="known"),
    }
    fields = {k: v for k, v in fields.items() if k in data or not partial}
    if "incident_ids" in data:
        ids = integer_list(data, "incident_ids")
        incidents = list(db.session().query(Ticket).filter(Ticket.id.in_(ids))) if ids else []
        missing = sorted(set(ids) - {t.id for t in incidents})
        if missing:
            raise ApiError(422, f"incident_ids: no tickets {missing}", field="incident_ids")
        fields["incidents"] = incidents
    return fields


@bp.get("/known-problems")
@permit("knowledge.read")
def list_known_problems():
    """Known problems with their linked incidents; ?status=open|known|fixed."""
    rows, total = queries.list_known_problems(
        db.session(), status=choice_arg("status", PROBLEM_STATUSES),
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0))
    return jsonify({"total": total, "items": [problem_dict(p) for p in rows]})


@bp.get("/known-problems/<int:problem_id>")
@permit("knowledge.read")
def get_known_problem(problem_id: int):
    """One known problem."""
    return jsonify(problem_dict(_problem_or_404(problem_id)))


@bp.post("/known-problems")
@permit("knowledge.edit")
def create_known_problem():
    """Record a known problem: {"title", "symptoms", "cause", "workaround", "group", "status", "incident_ids"}."""
    problem = KnownProblem(**_problem_fields(json_body(), partial=False))
    _store_new("known_problem", problem)
    return jsonify(problem_dict(problem)), 201


@bp.patch("/known-problems/<int:problem_id>")
@permit("knowledge.edit")
def update_known_problem(problem_id: int):
    """Edit a known problem or its linked incidents."""
    data = json_body()
    problem = _problem_or_404(problem_id)
    _store_changes("known_problem", problem, _problem_fields(data, partial=True))
    return jsonify(problem_dict(problem))
