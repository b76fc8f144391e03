"""``precedent sla``: due instants of a hypothetical ticket, the periodic SLA check, monthly reports."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from kb.vocab import PRIORITIES
from service.cli.common import echo_json, fail, settings, store_session
from service.sla.calendar import CALENDAR_NAMES, BusinessCalendar, CalendarError
from service.sla.clock import Pause, TicketTimes, due_instants
from service.sla.policies import POLICIES, PolicyError, get_policy


def parse_instant(text: str, option: str) -> datetime:
    """An ISO 8601 instant that must carry a UTC offset, or exit 2 naming ``option``."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: not an ISO 8601 instant: {text!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        fail(f"{option}: {text!r} has no UTC offset (e.g. 2026-11-23T10:00:00+03:00)")
    return instant


def parse_pause(text: str) -> Pause:
    """START/END with offsets, END not before START, or exit 2."""
    start_text, separator, end_text = text.partition("/")
    if not separator or not start_text or not end_text:
        fail(f"--pause: expected START/END, got {text!r}")
    start, end = parse_instant(start_text, "--pause"), parse_instant(end_text, "--pause")
    if end < start:
        fail(f"--pause: end {end_text} precedes start {start_text}")
    return Pause(start, end)


@click.group("sla")
def sla() -> None:
    """SLA clocks in business hours (docs/sla.md)."""


@sla.command("due")
@click.option("--policy", metavar="{" + ",".join(POLICIES) + "}", help="SLA policy.")
@click.option("--priority", metavar="{" + ",".join(PRIORITIES) + "}", help="Ticket priority.")
@click.option("--opened", metavar="ISO-8601-WITH-OFFSET", help="When the ticket was opened.")
@click.option("--calendar", "calendar_name", metavar="10x5|8x5|24x7", default=None,
              help="Support calendar (default 10x5; a policy with its own calendar, e.g. 24x7x4, uses it).")
@click.option("--timezone", "timezone_name", default="Europe/Moscow", show_default=True, help="IANA time zone.")
@click.option("--country", default="RU", show_default=True, help="Country of the public holidays.")
@click.option("--pause", "pauses", multiple=True, metavar="START/END", help="A pause of the clocks (repeatable).")
def due(policy: str | None, priority: str | None, opened: str | None, calendar_name: str | None,
        timezone_name: str, country: str, pauses: tuple[str, ...]) -> None:
    """Print the reaction, work-start and resolution due instants of a ticket as one JSON object."""
    if not policy:
        fail("--policy: required (one of " + ", ".join(POLICIES) + ")")
    try:
        sla_policy = get_policy(policy)
    except PolicyError as exc:
        fail(f"--policy: {exc}")
    if not priority:
        fail("--priority: required (one of " + ", ".join(PRIORITIES) + ")")
    if priority not in PRIORITIES:
        fail(f"--priority: unknown priority {priority!r} (one of {', '.join(PRIORITIES)})")
    if not opened:
        fail("--opened: required (ISO 8601 with offset, e.g. 2026-11-23T10:00:00+03:00)")
    opened_at = parse_instant(opened, "--opened")
    if calendar_name is not None and calendar_name not in CALENDAR_NAMES:
        fail(f"--calendar: unknown calendar {calendar_name!r} (one of {', '.join(CALENDAR_NAMES)})")
    name = calendar_name or sla_policy.calendar or "10x5"
    try:
        calendar = BusinessCalendar(name, timezone_name, None)
    except CalendarError as exc:
        fail(f"--timezone: {exc}")
    try:
        calendar = BusinessCalendar(name, timezone_name, country or None)
    except CalendarError as exc:
        fail(f"--country: {exc}")
    parsed_pauses = tuple(parse_pause(text) for text in pauses)
    times = TicketTimes(opened_at=opened_at, priority=priority, pauses=parsed_pauses)
    instants = due_instants(times, sla_policy, calendar, now=opened_at)
    echo_json({f"{target}_due": None if instant is None else instant.astimezone(calendar.zone).isoformat()
               for target, instant in instants.items()})


@sla.command("check")
@click.option("--now", "now_text", metavar="ISO-8601-WITH-OFFSET", help="Evaluate at this instant (default: now).")
@click.option("--reports/--no-reports", default=False,
              help="Also send the previous month's reports that are due (Gold and up).")
def check(now_text: str | None, reports: bool) -> None:
    """Recompute SLA state of open tickets, record at-risk/breached events with penalties, notify; print counts."""
    from service.sla import service as sla_service

    now = parse_instant(now_text, "--now") if now_text else datetime.now(UTC)
    config = settings()
    with store_session() as session:
        result = sla_service.periodic_check(session, now=now, settings=config, reports=reports)
    echo_json(result)


@sla.command("report")
@click.option("--client", "client_id", type=int, help="Client id.")
@click.option("--month", help="Month YYYY-MM (in the client's time zone).")
@click.option("--send", is_flag=True, help="E-mail it to the client and its manager (queued in the outbox).")
@click.option("--html", "as_html", is_flag=True, help="Print the printable HTML page instead of JSON.")
def report(client_id: int | None, month: str | None, send: bool, as_html: bool) -> None:
    """Print a client's monthly SLA report (JSON), optionally e-mail it."""
    from service.sla import service as sla_service

    if client_id is None:
        fail("--client: required")
    if not month:
        fail("--month: required (YYYY-MM)")
    config = settings()
    with store_session() as session:
        try:
            document = sla_service.client_report(session, client_id=client_id, month=month, settings=config)
        except sla_service.SlaReportError as exc:
            fail(f"--{exc.field}: {exc}")
        if send:
            sent = sla_service.send_client_report(session, client_id=client_id, month=month, settings=config,
                                                  actor="cli")
            if not sent:
                fail("--send: not queued (the client has neither an e-mail address nor a manager's)", code=1)
    if as_html:
        click.echo(sla_service.render_report_html(document))
    else:
        echo_json(document)
