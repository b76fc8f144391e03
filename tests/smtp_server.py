"""A real SMTP server on loopback (aiosmtpd) that keeps the messages it receives."""

from __future__ import annotations

import socket
from contextlib import contextmanager
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd handler collecting (envelope recipients, parsed message)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server():
    """Yield (inbox, port) of a running SMTP server on 127.0.0.1."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def deliver_outbox(database_url_or_session, settings, **kwargs) -> dict:
    """Run one round of the outbox worker (the real one) against a database URL or a session; its counts."""
    from kb.db import make_engine, make_session_factory
    from service.platform.outbox import deliver_due

    if isinstance(database_url_or_session, str):
        engine = make_engine(database_url_or_session)
        try:
            with make_session_factory(engine)() as session:
                return deliver_due(session, settings=settings, **kwargs)
        finally:
            engine.dispose()
    return deliver_due(database_url_or_session, settings=settings, **kwargs)


def deliver_app_outbox(app, **kwargs) -> dict:
    """One outbox round with the app's database and settings."""
    return deliver_outbox(app.config["DATABASE_URL"], app.config["SETTINGS"], **kwargs)
