"""In-process events that decouple the workflow from the search index, triage and notifications.

Senders pass the ticket id and the session-independent facts; receivers must not assume a request context.
"""

from blinker import Namespace

_signals = Namespace()

#: Sent after a ticket was created and committed: ``sender=app, ticket_id=int``.
ticket_created = _signals.signal("ticket-created")
#: Sent after any committed change of a ticket: ``sender=app, ticket_id=int, action=str, from_status, to_status``.
ticket_changed = _signals.signal("ticket-changed")
#: Sent after a knowledge article or known problem was created, edited or deleted:
#: ``sender=app, kind="article"|"known_problem", ref=int, deleted=bool``.
knowledge_changed = _signals.signal("knowledge-changed")
