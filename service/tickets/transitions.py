"""The transition table of the ITIL path in the seeds: statuses, actions, their parameters (pure, no database).

:data:`TRANSITIONS` is the single source of truth: an action is allowed only from its listed statuses,
anything else raises :class:`~service.tickets.errors.IllegalTransition` (HTTP 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb import vocab
from service.tickets.errors import IllegalTransition, WorkflowInputError

STATUSES = vocab.STATUSES
#: Statuses in which somebody works the ticket; "client_replied" returns to the one it left.
WORKING_STATUSES = ("in_progress", "escalated", "with_specialists")
#: Actions whose reason is addressed to the requester (the question asked, the note on the resolution).
REQUESTER_REASONS = frozenset({"request_info", "resolve"})
#: Sentinel target: back to the working status the ticket had before it waited for the client.
PREVIOUS_WORKING_STATUS = "<previous working status>"


@dataclass(frozen=True)
class Transition:
    """One row of the transition table: ``action`` moves a ticket from any of ``sources`` to ``target``."""

    action: str
    sources: tuple[str, ...]
    target: str
    description: str


TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    Transition("triage", ("new",), "triaged",
               "first line sets or confirms priority and group and queues the ticket"),
    Transition("take", ("triaged", "reopened"), "in_progress",
               "a first-line engineer takes the ticket (starts the first-line time box)"),
    Transition("escalate", ("in_progress",), "escalated", "first line hands the ticket to the second line"),
    Transition("assign_specialists", ("in_progress", "escalated", "with_specialists"), "with_specialists",
               "one or several narrow specialists work the ticket"),
    Transition("request_info", WORKING_STATUSES, "waiting_for_client",
               "ask the client for information; SLA clocks pause"),
    Transition("client_replied", ("waiting_for_client",), PREVIOUS_WORKING_STATUS,
               "the client answered; SLA clocks resume"),
    Transition("resolve", (*WORKING_STATUSES, "waiting_for_client"), "resolved",
               "the resolver records the resolution and informs the requester"),
    Transition("confirm", ("resolved",), "closed", "the requester confirms the resolution"),
    Transition("close", ("resolved",), "closed", "staff (or auto-close) closes a resolved ticket"),
    Transition("reopen", ("resolved", "closed"), "reopened", "the problem is back"),
)}
ACTIONS = tuple(TRANSITIONS)

ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "triage": ("priority", "group", "reason"),
    "take": ("specialist_id", "reason"),
    "escalate": ("specialist_id", "group", "reason"),
    "assign_specialists": ("specialist_ids", "reason"),
    "request_info": ("reason", "comment"),
    "client_replied": ("reason", "comment"),
    "resolve": ("resolution", "reason"),
    "confirm": ("reason",),
    "close": ("reason",),
    "reopen": ("reason",),
}


def allowed_actions(status: str) -> tuple[str, ...]:
    """The actions the transition table allows from ``status``, in table order."""
    return tuple(t.action for t in TRANSITIONS.values() if status in t.sources)


def next_status(status: str, action: str, *, previous_working: str | None = None) -> str:
    """The status ``action`` leads to from ``status``; raises IllegalTransition or WorkflowInputError."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise WorkflowInputError(f"action must be one of {', '.join(ACTIONS)}", "action")
    if status not in transition.sources:
        raise IllegalTransition(status, action, allowed_actions(status))
    if transition.target == PREVIOUS_WORKING_STATUS:
        return previous_working if previous_working in WORKING_STATUSES else "in_progress"
    return transition.target


def is_engineer(actor: str) -> bool:
    """True for a staff actor (neither ``client:`` nor ``system:``): only engineers' moves count as reaction."""
    return not actor.startswith(("client:", "system:"))


def transition_table() -> list[dict[str, Any]]:
    """The transition table as plain data (docs, API)."""
    return [{"action": t.action, "from": list(t.sources), "to": t.target, "description": t.description}
            for t in TRANSITIONS.values()]
