"""Knowledge articles and known problems."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from kb.models import Article, KnownProblem


def list_articles(session: Session, *, group: str | None = None, text: str | None = None,
                  limit: int = 50, offset: int = 0) -> tuple[list[Article], int]:
    """Articles, newest first, optionally by group or a case-insensitive substring of title or body."""
    query = select(Article)
    if group is not None:
        query = query.where(Article.group == group)
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Article.title).like(pattern), func.lower(Article.body).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def get_article(session: Session, *, article_id: int) -> Article | None:
    return session.get(Article, article_id)


def list_known_problems(session: Session, *, status: str | None = None, limit: int = 50,
                        offset: int = 0) -> tuple[list[KnownProblem], int]:
    """Known problems, newest first, with their linked incidents loaded."""
    query = select(KnownProblem)
    if status is not None:
        query = query.where(KnownProblem.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.options(selectinload(KnownProblem.incidents))
        .order_by(KnownProblem.updated_at.desc(), KnownProblem.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


def get_known_problem(session: Session, *, problem_id: int) -> KnownProblem | None:
    return session.scalar(
        select(KnownProblem).where(KnownProblem.id == problem_id).options(selectinload(KnownProblem.incidents))
    )
