"""Fixtures of the intake tests: the ticket tests' small world and settings, and a running SMTP intake."""

from __future__ import annotations

import pytest

from kb.db import make_session_factory
from service.tickets.smtp_intake import intake_server
from tests.service.tickets.conftest import (  # noqa: F401 - fixtures shared with the ticket tests
    EML_DIR,
    MONDAY_10_MSK,
    app,
    app_session,
    app_world,
    flow_settings,
    world,
)
from tests.smtp_server import free_port


@pytest.fixture
def intake(db_session, flow_settings):  # noqa: F811 - the imported fixture
    """A real SMTP intake server (aiosmtpd) on loopback over the test store: yields (port, handler)."""
    from dataclasses import replace

    settings = replace(flow_settings, intake_max_message_bytes=256 * 1024, intake_max_attachment_bytes=64 * 1024,
                       intake_max_attachments=3)
    port = free_port()
    server = intake_server(make_session_factory(db_session.get_bind()), settings, host="127.0.0.1", port=port)
    server.start()
    try:
        yield port, server.handler
    finally:
        server.stop()
