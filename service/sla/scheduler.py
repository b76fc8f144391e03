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
import uuid
from datetime import UTC, datetime

from flask import Flask

from service.config import Settings
from service.platform.periodic import PeriodicWorker

log = logging.getLogger(__name__)

LEASE = "sla-scheduler"


class SlaScheduler(PeriodicWorker):
    """Runs the SLA check periodically in a daemon thread until :meth:`stop`."""

    thread_name = "sla-scheduler"

    def __init__(self, database_url: str, settings: Settings):
        super().__init__(database_url, settings)
        #: Who this scheduler is in the lease table: host, process and instance.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def interval_seconds(self) -> float:
        return max(self.settings.sla_check_interval_seconds, 1)

    def round(self, session) -> dict:
        """One check (and due monthly reports) when this process holds the lease."""
        from kb.queries import leases
        from service.sla import service as sla_service

        ttl = 3 * max(self.settings.sla_check_interval_seconds, 1)
        if not leases.acquire(session, name=LEASE, holder=self.holder, now=datetime.now(UTC), ttl_seconds=ttl):
            return {"skipped": "another process holds the SLA scheduler lease"}
        # The same use case as ``precedent sla check``: it commits (or rolls back) on its own.
        return sla_service.periodic_check(session, settings=self.settings,
                                          reports=self.settings.sla_send_monthly_reports)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and hand the lease over at once."""
        from kb.queries import leases

        super().stop(timeout)
        try:
            with self.sessions()() as session:
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
