"""A round of work repeated in a daemon thread until stopped: the base of the in-process SLA scheduler and
outbox worker. One session factory per worker, made on the first round (not per round: an engine per round
would open a new connection pool every interval)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kb.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Subclasses name the thread and give ``interval_seconds()`` and ``round(session)``; a round that returns
    ``{"skipped": why}`` (another process does the work) is not counted in ``rounds``."""

    thread_name = "periodic-worker"

    def __init__(self, database_url: str, settings):
        self.database_url = database_url
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sessions = None
        self.rounds = 0

    def interval_seconds(self) -> float:
        raise NotImplementedError

    def round(self, session) -> dict[str, Any]:
        raise NotImplementedError

    def sessions(self):
        """The worker's session factory (made once)."""
        if self._sessions is None:
            self._sessions = make_session_factory(make_engine(self.database_url))
        return self._sessions

    def run_once(self) -> dict[str, Any]:
        """One round; errors are logged, never raised into the thread."""
        try:
            with self.sessions()() as session:
                result = self.round(session)
        except Exception:  # a background thread must survive a bad round (database restart, race)
            log.exception("%s: round failed", self.thread_name)
            result = {"error": True}
        if not result.get("skipped"):
            self.rounds += 1
        return result

    def run_forever(self) -> None:
        """The first round at once, then one every interval until stopped (also used in the foreground)."""
        while True:
            self.run_once()
            if self._stop.wait(self.interval_seconds()):
                return

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run_forever, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
