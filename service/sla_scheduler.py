"""Background SLA check inside the web service: a daemon thread that runs ``sla_check`` (and, at month end,
the monthly reports) every ``sla_check_interval_seconds``. Started by ``create_app`` only when
``sla_scheduler_enabled`` is set (off by default and in tests); ``precedent sla check`` from cron is the
alternative. Several gunicorn workers may each run one: the unique (ticket, target, state) constraint keeps
events single, and a worker that loses the race rolls back and tries again next round.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from kb.config import Settings
from kb.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


class SlaScheduler:
    """Runs the SLA check periodically in a daemon thread until :meth:`stop`."""

    def __init__(self, database_url: str, settings: Settings):
        self.database_url = database_url
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def run_once(self) -> dict:
        """One check (and due monthly reports); errors are logged, never raised into the thread."""
        from service import sla_service

        sessions = make_session_factory(make_engine(self.database_url))
        with sessions() as session:
            try:
                result = sla_service.sla_check(session, settings=self.settings)
                if self.settings.sla_send_monthly_reports:
                    result["reports"] = sla_service.send_monthly_reports(session, settings=self.settings)
            except Exception:  # a background thread must survive a bad round (database restart, race)
                session.rollback()
                log.exception("background SLA check failed")
                result = {"error": True}
        self.runs += 1
        return result

    def _loop(self) -> None:
        # The first check runs at start-up, then one every interval until stopped.
        while True:
            self.run_once()
            if self._stop.wait(max(self.settings.sla_check_interval_seconds, 1)):
                return

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sla-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def init_app(app: Flask) -> SlaScheduler | None:
    """Start the scheduler when the app's settings enable it; keep it in ``app.extensions['sla_scheduler']``."""
    settings: Settings = app.config["SETTINGS"]
    if not app.config.get("SLA_SCHEDULER_ENABLED", settings.sla_scheduler_enabled):
        return None
    scheduler = SlaScheduler(app.config["DATABASE_URL"], settings)
    app.extensions["sla_scheduler"] = scheduler
    scheduler.start()
    return scheduler
