"""Engineers' verdicts on suggestions: was a suggested incident, article or known problem useful for a ticket.

The verdicts are replayed through the current search by ``service.triage.quality.suggestion_quality``
(``precedent evaluate feedback``, the ``/quality`` page).  Recording one is a use case of its own: check
that the ticket and the suggested item exist, store the verdict, commit once.
"""

from __future__ import annotations

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
