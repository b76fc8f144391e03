"""Background SLA check inside the web service: a daemon thread that runs ``sla_check`` (and, at month end,
the monthly reports) every ``sla_check_interval_seconds``. Started by ``create_app`` only when
``sla_scheduler_enabled`` is set (off by default and in tests); ``precedent sla check`` from cron is the
alternative. Several gunicorn workers (or hosts) may each run one: a round runs only in the process that
holds the database lease ``sla-scheduler`` (renewed every round, valid for three intervals), so events
and their e-mails are produced once; when that process dies another takes over once the lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime

from flask import Flask

from kb.db import make_engine, make_session_factory
from service.config import Settings

log = logging.getLogger(__name__)

LEASE = "sla-scheduler"


class SlaScheduler:
    """Runs the SLA check periodically in a daemon thread until :meth:`stop`."""

    def __init__(self, database_url: str, settings: Settings):
        self.database_url = database_url
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        #: Who this scheduler is in the lease table: host, process and instance.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run_once(self) -> dict:
        """One check (and due monthly reports) when this process holds the lease; errors are logged,
        never raised into the thread."""
        from kb.queries import leases
        from service.sla import service as sla_service

        sessions = make_session_factory(make_engine(self.database_url))
        with sessions() as session:
            try:
                ttl = 3 * max(self.settings.sla_check_interval_seconds, 1)
                if not leases.acquire(session, name=LEASE, holder=self.holder, now=datetime.now(UTC),
                                      ttl_seconds=ttl):
                    return {"skipped": "another process holds the SLA scheduler lease"}
                # The same use case as ``precedent sla check``: it commits (or rolls back) on its own.
                result = sla_service.periodic_check(session, settings=self.settings,
                                                    reports=self.settings.sla_send_monthly_reports)
            except Exception:  # a background thread must survive a bad round (database restart, race)
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
        """Stop the thread and hand the lease over at once."""
        from kb.queries import leases

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with make_session_factory(make_engine(self.database_url))() as session:
                leases.release(session, name=LEASE, holder=self.holder)
        except Exception:  # noqa: BLE001 - the lease then simply expires
            log.warning("could not release the SLA scheduler lease", exc_info=True)


def init_app(app: Flask) -> SlaScheduler | None:
    """Start the scheduler when the app's settings enable it; keep it in ``app.extensions['sla_scheduler']``."""
    settings: Settings = app.config["SETTINGS"]
    if not app.config.get("SLA_SCHEDULER_ENABLED", settings.sla_scheduler_enabled):
        return None
    scheduler = SlaScheduler(app.config["DATABASE_URL"], settings)
    app.extensions["sla_scheduler"] = scheduler
    scheduler.start()
    return scheduler
