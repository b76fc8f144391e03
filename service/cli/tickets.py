"""``precedent tickets`` (periodic workflow checks) and ``precedent intake`` (e-mail intake)."""

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
    a message whose Message-ID was already ingested is a "duplicate". A Maildir's messages move to cur/
    once handled (refused ones flagged), so running this from cron takes each message once.
    Prints one JSON report; exits 2 if any message was refused (the others are still ingested).
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
            if done is not None:
                done(report["outcome"] == "refused")
    echo_json({"messages": len(sources), "refused": failed, "results": results})
    if failed:
        first = next(r for r in results if r["outcome"] == "refused")
        fail(f"{failed} message(s) refused; first: {first['file']}: {first['error']}")
