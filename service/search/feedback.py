"""Engineers' verdicts on suggestions: was a suggested incident, article or known problem useful for a ticket.

The verdicts are replayed through the current search by ``service.triage.quality.suggestion_quality``
(``precedent evaluate feedback``, the ``/quality`` page) and are a ranking signal (:func:`verdict_boosts`):
an item engineers found useful for the tickets it was suggested for rises in the next searches.  Recording
one is a use case of its own: check that the ticket and the suggested item exist, store the verdict, commit
once.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from kb.models import Article, KnownProblem, SuggestionFeedback, Ticket
from service.platform.unit_of_work import unit_of_work

#: What a suggestion can be, and where it is stored.
FEEDBACK_KINDS = {"incident": Ticket, "article": Article, "known_problem": KnownProblem}


class FeedbackTargetNotFound(LookupError):
    """The kind, the ticket or the suggested item does not exist; ``field`` names which (HTTP 404)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def check_feedback_target(session: Session, *, ticket_id: int, kind: str, ref: int) -> None:
    """Raise :class:`FeedbackTargetNotFound` unless ``kind`` is known and the ticket and item exist."""
    if kind not in FEEDBACK_KINDS:
        raise FeedbackTargetNotFound(f"kind must be one of {', '.join(FEEDBACK_KINDS)}", "kind")
    if session.get(Ticket, ticket_id) is None:
        raise FeedbackTargetNotFound(f"ticket {ticket_id} not found", "ticket_id")
    if session.get(FEEDBACK_KINDS[kind], ref) is None:
        raise FeedbackTargetNotFound(f"{kind} {ref} not found", "ref")


def record_feedback(session: Session, *, ticket_id: int, kind: str, ref: int, useful: bool,
                    actor: str) -> SuggestionFeedback:
    """Store whether suggestion ``kind``/``ref`` was useful for the ticket; commits."""
    with unit_of_work(session):
        check_feedback_target(session, ticket_id=ticket_id, kind=kind, ref=ref)
        feedback = SuggestionFeedback(ticket_id=ticket_id, kind=kind, ref=ref, useful=bool(useful), actor=actor)
        session.add(feedback)
    return feedback


def net_verdicts(session: Session, kind: str, *, except_ticket: int | None = None) -> dict[int, int]:
    """``{ref: useful - not useful}`` over the suggested items of ``kind``, counting an engineer team's latest
    verdict per (ticket, item) once: changing one's mind replaces the verdict, it does not add one. Verdicts
    given for ``except_ticket`` are left out (a replay must not be told its own answers)."""
    latest = select(func.max(SuggestionFeedback.id)).where(SuggestionFeedback.kind == kind)
    if except_ticket is not None:
        latest = latest.where(SuggestionFeedback.ticket_id != except_ticket)
    latest = latest.group_by(SuggestionFeedback.ticket_id, SuggestionFeedback.ref)
    net = func.sum(case((SuggestionFeedback.useful.is_(True), 1), else_=-1))
    rows = session.execute(select(SuggestionFeedback.ref, net)
                           .where(SuggestionFeedback.id.in_(latest.scalar_subquery()))
                           .group_by(SuggestionFeedback.ref))
    return {int(ref): int(value) for ref, value in rows if value}


def verdict_boosts(session: Session, kind: str, *, per_verdict: float, cap: float,
                   except_ticket: int | None = None) -> dict[int, float]:
    """The ranking term of engineers' verdicts: ``per_verdict`` per net useful verdict, within ``±cap``
    (added to the hit's multiplicative factor by :meth:`ml.retrieval.HybridRetriever.rank`)."""
    if per_verdict <= 0 or cap <= 0:
        return {}
    nets = net_verdicts(session, kind, except_ticket=except_ticket)
    return {ref: max(-cap, min(cap, per_verdict * net)) for ref, net in nets.items()}
