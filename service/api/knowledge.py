"""Knowledge articles and known problems: read for everyone on staff, written by engineers.

The views parse, call the use cases of ``service.knowledge.service`` (which audit every write, commit once
and then announce it through ``knowledge_changed`` so the search index picks it up) and serialize.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from kb import vocab
from kb.models import Article, KnownProblem
from kb.queries import knowledge as queries
from service.api import schemas as s
from service.api.tickets import choice_arg, int_arg
from service.knowledge import service as knowledge
from service.knowledge.service import PROBLEM_STATUSES, KnowledgeError, KnowledgeNotFound
from service.platform import db
from service.platform.auth import current_user
from service.platform.errors import ApiError
from service.platform.permissions import permit
from service.platform.schema import operation
from service.platform.serializers import iso
from service.platform.validation import choice, integer_list, json_body, string, text_problem

#: The fields an article or a known problem is written with (anything else is a 422 naming it).
ARTICLE_FIELDS = ("title", "body", "group")
PROBLEM_FIELDS = ("title", "symptoms", "cause", "workaround", "group", "status", "incident_ids")

bp = Blueprint("knowledge", __name__, url_prefix="/api/v1")


def article_dict(article: Article) -> dict:
    return {"id": article.id, "external_id": article.external_id, "title": article.title, "body": article.body,
            "group": article.group, "tags": article.tags, "created_at": iso(article.created_at),
            "updated_at": iso(article.updated_at)}


def problem_dict(problem: KnownProblem) -> dict:
    return {"id": problem.id, "external_id": problem.external_id, "title": problem.title,
            "symptoms": problem.symptoms, "cause": problem.cause, "workaround": problem.workaround,
            "group": problem.group, "status": problem.status, "incident_ids": sorted(t.id for t in problem.incidents),
            "created_at": iso(problem.created_at), "updated_at": iso(problem.updated_at)}


def _actor() -> str:
    return current_user().username


def _call(use_case, **kwargs):
    """Run a knowledge use case; its refusals become 404 / 422 naming the field."""
    try:
        return use_case(db.session(), actor=_actor(), **kwargs)
    except KnowledgeError as exc:
        raise ApiError(404 if isinstance(exc, KnowledgeNotFound) else 422, str(exc), field=exc.field) from None


# --- articles -----------------------------------------------------------------------------------


@bp.get("/articles")
@permit("knowledge.read")
@operation(query=s.ArticleListQuery, responses={200: s.ArticleList})
def list_articles():
    """Knowledge articles, newest first; ?group=, ?q= (substring), ?limit=, ?offset=."""
    rows, total = queries.list_articles(
        db.session(), group=choice_arg("group", vocab.GROUPS), text=_text_arg("q"),
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0))
    return jsonify({"total": total, "items": [article_dict(a) for a in rows]})


@bp.get("/articles/<int:article_id>")
@permit("knowledge.read")
@operation(responses={200: s.ArticleOut})
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
    try:
        return knowledge.get_article(db.session(), article_id)
    except KnowledgeNotFound as exc:
        raise ApiError(404, str(exc), field=exc.field) from None


def _article_fields(data: dict, *, partial: bool) -> dict:
    fields = {
        # given in an edit, a required field must still have a value ("title": null would break the row)
        "title": string(data, "title", required=not partial or "title" in data, max_length=500),
        "body": string(data, "body", required=not partial or "body" in data, max_length=100_000),
        "group": choice(data, "group", vocab.GROUPS),
    }
    return {k: v for k, v in fields.items() if k in data or not partial}


@bp.post("/articles")
@permit("knowledge.edit")
@operation(body=s.ArticleBody, responses={201: s.ArticleOut})
def create_article():
    """Write a new knowledge article: {"title", "body", "group"?}."""
    article = _call(knowledge.create_article, fields=_article_fields(json_body(ARTICLE_FIELDS), partial=False))
    return jsonify(article_dict(article)), 201


@bp.patch("/articles/<int:article_id>")
@permit("knowledge.edit")
@operation(body=s.ArticleBody, responses={200: s.ArticleOut})
def update_article(article_id: int):
    """Edit an article's title, body or group."""
    changes = _article_fields(json_body(ARTICLE_FIELDS), partial=True)
    article = _call(knowledge.update_article, article_id=article_id, changes=changes)
    return jsonify(article_dict(article))


@bp.delete("/articles/<int:article_id>")
@permit("knowledge.delete")
@operation(responses={204: None})
def delete_article(article_id: int):
    """Delete an article (it leaves the search index too)."""
    _call(knowledge.delete_article, article_id=article_id)
    return "", 204


# --- known problems -----------------------------------------------------------------------------


def _problem_or_404(problem_id: int) -> KnownProblem:
    try:
        return knowledge.get_known_problem(db.session(), problem_id)
    except KnowledgeNotFound as exc:
        raise ApiError(404, str(exc), field=exc.field) from None


def _problem_fields(data: dict, *, partial: bool) -> dict:
    fields = {
        "title": string(data, "title", required=not partial or "title" in data, max_length=500),
        "symptoms": string(data, "symptoms", max_length=50_000, default=""),
        "cause": string(data, "cause", max_length=50_000, default=""),
        "workaround": string(data, "workaround", max_length=50_000, default=""),
        "group": choice(data, "group", vocab.GROUPS),
        "status": choice(data, "status", PROBLEM_STATUSES, default="known"),
    }
    return {k: v for k, v in fields.items() if k in data or not partial}


def _incident_ids(data: dict) -> list[int] | None:
    """The ids of the incidents to link (the use case checks they exist); None when not given."""
    return integer_list(data, "incident_ids") if "incident_ids" in data else None


@bp.get("/known-problems")
@permit("knowledge.read")
@operation(query=s.ProblemListQuery, responses={200: s.ProblemList})
def list_known_problems():
    """Known problems with their linked incidents; ?status=open|known|fixed."""
    rows, total = queries.list_known_problems(
        db.session(), status=choice_arg("status", PROBLEM_STATUSES),
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0))
    return jsonify({"total": total, "items": [problem_dict(p) for p in rows]})


@bp.get("/known-problems/<int:problem_id>")
@permit("knowledge.read")
@operation(responses={200: s.ProblemOut})
def get_known_problem(problem_id: int):
    """One known problem."""
    return jsonify(problem_dict(_problem_or_404(problem_id)))


@bp.post("/known-problems")
@permit("knowledge.edit")
@operation(body=s.ProblemBody, responses={201: s.ProblemOut})
def create_known_problem():
    """Record a known problem: {"title", "symptoms", "cause", "workaround", "group", "status", "incident_ids"}."""
    data = json_body(PROBLEM_FIELDS)
    problem = _call(knowledge.create_known_problem, fields=_problem_fields(data, partial=False),
                    incident_ids=_incident_ids(data))
    return jsonify(problem_dict(problem)), 201


@bp.patch("/known-problems/<int:problem_id>")
@permit("knowledge.edit")
@operation(body=s.ProblemBody, responses={200: s.ProblemOut})
def update_known_problem(problem_id: int):
    """Edit a known problem or its linked incidents."""
    _problem_or_404(problem_id)  # an unknown id is a 404 before any field is judged
    data = json_body(PROBLEM_FIELDS)
    problem = _call(knowledge.update_known_problem, problem_id=problem_id,
                    changes=_problem_fields(data, partial=True), incident_ids=_incident_ids(data))
    return jsonify(problem_dict(problem))
