"""The one transaction rule: a use case validates, changes, audits and commits once, then runs its effects.

::

    with unit_of_work(session) as uow:
        ticket = stage_ticket(uow, ...)          # validate, change, audit (no commit)
        uow.after_commit("mail", send_the_mail)  # signals, mail: only once the change is stored
    # committed here; the effects ran; on any error the session was rolled back and nothing ran

No view, command or helper commits; an effect that fails (an SMTP server down, a broken receiver) is
logged and never undoes the stored change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class UnitOfWork:
    """The session of one use case and what it does once its change is committed."""

    def __init__(self, session: Session):
        self.session = session
        self._effects: list[tuple[int, str, Callable[[], object]]] = []

    def after_commit(self, what: str, effect: Callable[[], object], *, phase: int = 0) -> None:
        """Run ``effect`` once the transaction is committed (``what`` names it in the log if it fails).

        Effects run phase by phase, the lower first, and within a phase in the order they were added: a use
        case that stages several changes can send all its signals before any of its mail.
        """
        self._effects.append((phase, what, effect))

    def run_effects(self) -> None:
        """Run the effects by phase, then in the order they were added; a failing one is logged, the others
        still run."""
        effects, self._effects = sorted(self._effects, key=lambda e: e[0]), []  # stable: keeps the order
        for _phase, what, effect in effects:
            try:
                effect()
            except Exception:  # noqa: BLE001 - the change is committed: log, never undo
                log.exception("%s failed after commit", what)


@contextmanager
def unit_of_work(session: Session) -> Iterator[UnitOfWork]:
    """One transaction: commit when the block ends, roll back if it raises, then run the effects."""
    uow = UnitOfWork(session)
    try:
        yield uow
        session.commit()
    except BaseException:
        session.rollback()
        raise
    uow.run_effects()


def signal_sender() -> object | None:
    """The running Flask app (the sender of our signals), or None outside a request or CLI app context."""
    from flask import current_app, has_app_context

    return current_app._get_current_object() if has_app_context() else None
