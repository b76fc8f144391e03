"""The workflow's refusals: a bad field (422), an unknown ticket (404), a duplicate or an illegal move (409)."""

from __future__ import annotations

from collections.abc import Sequence

from service.platform.validation import FieldError


class WorkflowError(Exception):
    """Base of the workflow's refusals other than a bad field (that one is WorkflowInputError)."""


#: A field of a request is not acceptable; ``field`` names it (HTTP 422). It is the error of the shared field
#: checks of :mod:`service.platform.validation`, so the API and the workflow refuse a value in the same words.
WorkflowInputError = FieldError


class TicketNotFound(WorkflowError, LookupError):
    """No ticket with that id (HTTP 404)."""

    def __init__(self, ticket_id: int):
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class DuplicateTicket(WorkflowError):
    """A ticket with that external id exists already (HTTP 409); ``field`` names the key."""

    def __init__(self, message: str, field: str = "external_id"):
        super().__init__(message)
        self.field = field


class IllegalTransition(WorkflowError):
    """``action`` is not allowed in ``status``; ``allowed`` lists what is (HTTP 409)."""

    def __init__(self, status: str, action: str, allowed: Sequence[str]):
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(f"action {action!r} is not allowed in status {status!r}; allowed: {allowed_text}")
        self.status = status
        self.action = action
        self.allowed = tuple(allowed)
