"""``precedent tickets`` (periodic workflow checks), ``precedent intake`` (e-mail intake: files, Maildir, SMTP) and
``precedent outbox`` (delivery of outgoing mail)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from service.cli.common import echo_json, fail, settings, store_session
from service.tickets import periodic
from service.tickets.errors import WorkflowInputError


def _now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now: not an ISO 8601 date-time: {value!r}")
    if parsed.tzinfo is None:
        fail("--now: give a UTC offset, e.g. 2026-11-23T10:00:00+03:00")
    return parsed


@click.group("tickets")
def tickets() -> None:
    """Periodic ticket workflow checks (run them from cron or a timer)."""


@tickets.command("autoclose")
@click.option("--days", type=click.IntRange(min=0), help="Working days after resolution "
              "(default: PRECEDENT_WORKFLOW_AUTOCLOSE_WORKING_DAYS).")
@click.option("--now", "now_text", metavar="ISO-8601", help="Pretend it is this instant (with offset).")
@click.option("--dry-run", is_flag=True, help="List the tickets that would be closed, change nothing.")
def autoclose(days: int | None, now_text: str | None, dry_run: bool) -> None:
    """Close resolved tickets that nobody confirmed within N working days of the client's calendar."""
    current = settings()
    if days is not None:
        from dataclasses import replace

        current = replace(current, workflow_autoclose_working_days=days)
    now = _now(now_text)
    with store_session(current) as session:
        if dry_run:
            ids = [t.id for t in periodic.autoclose_candidates(session, now=now, settings=current)]
        else:
            ids = periodic.autoclose_resolved(session, now=now, settings=current)
    echo_json({"closed" if not dry_run else "would_close": ids,
               "working_days": current.workflow_autoclose_working_days})


@tickets.command("timebox")
@click.option("--now", "now_text", metavar="ISO-8601", help="Pretend it is this instant (with offset).")
def timebox(now_text: str | None) -> None:
    """Flag first-line tickets whose time box ran out (audit event time_box_expired)."""
    current = settings()
    with store_session(current) as session:
        ids = periodic.flag_time_box_expired(session, now=_now(now_text), settings=current)
    echo_json({"flagged": ids, "time_box_minutes": current.workflow_first_line_minutes})


@click.group("intake")
def intake() -> None:
    """Turn incoming messages into tickets."""


def _maildir_messages(path: Path):
    """(label, raw bytes, done callback) of each message in a Maildir's new/ folder."""
    import mailbox

    box = mailbox.Maildir(str(path), factory=None, create=False)
    for key in sorted(box.iterkeys()):
        message = box.get_message(key)
        if message.get_subdir() != "new":
            continue

        def done(refused: bool, key=key, message=message) -> None:
            # ingested messages move to cur/ as seen; refused ones also get the "flagged" mark for a human
            message.set_subdir("cur")
            message.add_flag("FS" if refused else "S")
            box[key] = message

        yield f"{path}/new/{key}", box.get_bytes(key), done


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "new").is_dir() and (path / "cur").is_dir()


@intake.command("email")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def intake_email(paths: tuple[Path, ...]) -> None:
    """Ingest RFC 822 messages: .eml files, folders of *.eml (name order), or Maildirs (new messages only).

    Each message becomes a ticket (channel email) or a comment on the ticket its subject names ("[#123]");
    a message whose Message-ID was already ingested is a "duplicate"; one from an unknown sender is
    "quarantined" (staff accept or reject it on /quarantine). A Maildir's messages move to cur/ once handled
    (refused and quarantined ones flagged), so running this from cron takes each message once. The same code
    serves `precedent intake smtp`. Prints one JSON report; exits 2 if any message was refused (unreadable).
    """
    from service.tickets.email_intake import ingest_email

    sources: list = []
    for path in paths:
        if _is_maildir(path):
            sources.extend(_maildir_messages(path))
        elif path.is_dir():
            sources.extend((str(p), p, None) for p in sorted(path.iterdir())
                           if p.suffix.lower() == ".eml" and p.is_file())
        elif path.is_file():
            sources.append((str(path), path, None))
        else:
            fail(f"PATHS: {path} is neither a file nor a folder")
    current = settings()
    results, failed = [], 0
    with store_session(current) as session:
        for label, content, done in sources:
            try:
                raw = content.read_bytes() if isinstance(content, Path) else content
                report = {"file": label, **ingest_email(session, raw=raw, settings=current)}
            except WorkflowInputError as exc:
                report = {"file": label, "outcome": "refused", "field": exc.field, "error": str(exc)}
            except OSError as exc:
                report = {"file": label, "outcome": "refused", "error": exc.strerror or str(exc)}
            failed += report["outcome"] == "refused"
            results.append(report)
            if done is not None:  # refused and quarantined messages both wait for a human: flagged
                done(report["outcome"] in ("refused", "quarantined"))
    echo_json({"messages": len(sources), "refused": failed, "results": results})
    if failed:
        first = next(r for r in results if r["outcome"] == "refused")
        fail(f"{failed} message(s) refused; first: {first['file']}: {first['error']}")


@intake.command("smtp")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
def intake_smtp(host: str, port: int) -> None:
    """Run the SMTP intake server until interrupted: every accepted message becomes a ticket, a comment on the
    ticket its subject names ("[#123]"), or waits in the quarantine (unknown sender). Oversized messages get
    552, unreadable ones 554, a store failure 451 (the sender retries)."""
    import threading

    from kb.db import make_engine, make_session_factory
    from service.tickets.smtp_intake import intake_server

    current = settings()
    sessions = make_session_factory(make_engine(current.resolved_database_url))
    server = intake_server(sessions, current, host=host, port=port)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        fail(f"--port: cannot listen on {host}:{port}: {exc}", code=1)
    click.echo(f"SMTP intake listening on {host}:{port} (max {current.intake_max_message_bytes} bytes); Ctrl+C stops",
               err=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@click.group("outbox")
def outbox() -> None:
    """Outgoing mail: deliver it, list failed messages, resend them."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now and exit (for cron) instead of running on.")
def outbox_run(once: bool) -> None:
    """Deliver the outbox every PRECEDENT_OUTBOX_INTERVAL_SECONDS until interrupted (or once), retrying
    failures with exponential back-off; prints each round that did something as JSON."""
    from service.platform.outbox import OutboxWorker, deliver_due

    current = settings()
    if once:
        with store_session(current) as session:
            echo_json(deliver_due(session, settings=current))
        return
    if not current.smtp_host:
        click.echo("warning: PRECEDENT_SMTP_HOST is empty: messages stay pending until it is set", err=True)
    worker = OutboxWorker(current.resolved_database_url, current)
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        pass


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default="failed", show_default=True)
def outbox_list(status: str) -> None:
    """List outbox messages of one status, newest first."""
    from service.platform.outbox import messages

    with store_session() as session:
        echo_json([{"id": m.id, "kind": m.kind, "ticket_id": m.ticket_id, "recipients": m.recipients,
                    "subject": m.subject, "attempts": m.attempts, "last_error": m.last_error,
                    "created_at": m.created_at} for m in messages(session, status=status)])


@outbox.command("resend")
@click.argument("message_id", type=int)
def outbox_resend(message_id: int) -> None:
    """Put a failed message back in line with fresh attempts."""
    from service.platform.outbox import OutboxError, resend

    with store_session() as session:
        try:
            message = resend(session, message_id=message_id, actor="cli")
        except OutboxError as exc:
            fail(f"MESSAGE_ID: {exc}")
        echo_json({"id": message.id, "status": message.status})
