"""Monitoring intake: Prometheus Alertmanager webhook notifications become incidents on the matching node.

Payload: Alertmanager's webhook format version "4" (``status``, ``alerts[]`` with ``status``, ``labels``,
``annotations``, ``startsAt``, ``endsAt``, ``fingerprint``). Each alert is matched to a node by the first
label of the ``alertmanager_node_labels`` setting (default ``node``, ``host``, ``hostname``, ``instance``)
whose value -- as given, without a ``:port`` suffix or URL scheme, or its short host name -- equals a
node's name or its ``attributes`` ``hostname``/``fqdn``/``ip``/``address`` (case-insensitive). Then:

- firing, no open monitoring incident with that fingerprint on that node: a new incident on the node's client (channel
  "monitoring", ``alert_fingerprint``, ``alert_severity`` from ``labels.severity``; triage sets priority
  and group, so a critical alert on a critical node is "highest");
- firing, such an incident is open: an internal comment on it instead (de-duplication per node and
  client, only among tickets monitoring created: a fingerprint typed into another ticket absorbs nothing);
- resolved: a comment on that incident (none: ignored); with ``alertmanager_resolve_incidents`` the incident
  also moves to "resolved" (the client confirms or reopens it, and it closes itself after the auto-close
  days) when its status allows it;
- no node, or several nodes of different clients: stored as an :class:`~kb.models.UnmatchedAlert` (a repeat
  counts on the same row) and listed for staff on ``/alerts/unmatched``; :func:`link_to_node` teaches the
  mapping (the label value joins the node's ``attributes.alert_names``, matched like its hostname from then
  on) and opens the incident.

The whole notification is validated first and written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb import vocab
from kb.models import MAX_ID, Node, Ticket, UnmatchedAlert
from service.config import Settings, current_settings
from service.platform.unit_of_work import UnitOfWork, unit_of_work
from service.tickets.actions import stage_action, stage_comment
from service.tickets.errors import WorkflowInputError
from service.tickets.staging import utc_now
from service.tickets.transitions import allowed_actions
from service.tickets.workflow import stage_ticket

ACTOR = "system:alertmanager"
#: Alertmanager writes this for an alert that has not ended.
_ZERO_TIME = "0001-01-01T00:00:00Z"
_NODE_ATTRIBUTES = ("hostname", "fqdn", "ip", "address")
#: Node attribute holding the label values staff linked to the node (a list of strings).
LEARNED_NAMES = "alert_names"


@dataclass(frozen=True)
class Alert:
    """One validated alert of a notification."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    generator_url: str | None


def _instant(value: object, field: str, *, allow_zero: bool = False) -> datetime | None:
    from service.platform.validation import MAX_YEAR, MIN_YEAR, instant_in_range

    if not isinstance(value, str) or not value:
        raise WorkflowInputError(f"{field} must be an RFC 3339 date-time string", field)
    if allow_zero and value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WorkflowInputError(f"{field} must be an RFC 3339 date-time, got {value!r}", field) from None
    if parsed.tzinfo is None:
        raise WorkflowInputError(f"{field} must carry a UTC offset", field)
    # 0001-01-01T00:00:00+14:00 is before year 1 in UTC: the conversion overflows.
    if not instant_in_range(parsed):
        raise WorkflowInputError(f"{field} must lie between the years {MIN_YEAR} and {MAX_YEAR}", field)
    return parsed.astimezone(UTC)


def _string_map(value: object, field: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or any(not isinstance(k, str) or not isinstance(v, str)
                                          for k, v in value.items()):
        raise WorkflowInputError(f"{field} must be an object of string values", field)
    return dict(value)


def parse_notification(payload: object) -> list[Alert]:
    """Validate an Alertmanager webhook payload; WorkflowInputError names the first bad field."""
    if not isinstance(payload, dict):
        raise WorkflowInputError("the payload must be a JSON object", "payload")
    if payload.get("version") != "4":
        raise WorkflowInputError(f"version must be \"4\" (Alertmanager webhook format), "
                                 f"got {payload.get('version')!r}", "version")
    if payload.get("status") not in ("firing", "resolved"):
        raise WorkflowInputError("status must be firing or resolved", "status")
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise WorkflowInputError("alerts must be a list", "alerts")
    alerts = []
    for index, raw in enumerate(raw_alerts):
        prefix = f"alerts[{index}]"
        if not isinstance(raw, dict):
            raise WorkflowInputError(f"{prefix} must be an object", prefix)
        status = raw.get("status")
        if status not in ("firing", "resolved"):
            raise WorkflowInputError(f"{prefix}.status must be firing or resolved", f"{prefix}.status")
        fingerprint = raw.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip() or len(fingerprint) > 100:
            raise WorkflowInputError(f"{prefix}.fingerprint must be a non-empty string of at most "
                                     "100 characters", f"{prefix}.fingerprint")
        generator_url = raw.get("generatorURL")
        alerts.append(Alert(
            status=status,
            labels=_string_map(raw.get("labels"), f"{prefix}.labels", required=True),
            annotations=_string_map(raw.get("annotations"), f"{prefix}.annotations", required=False),
            starts_at=_instant(raw.get("startsAt"), f"{prefix}.startsAt"),
            ends_at=_instant(raw.get("endsAt") or _ZERO_TIME, f"{prefix}.endsAt", allow_zero=True),
            fingerprint=fingerprint.strip(),
            generator_url=generator_url if isinstance(generator_url, str) else None,
        ))
    return alerts


def label_candidates(value: str) -> list[str]:
    """Lower-case names a label value may stand for: itself, without scheme/port/path, its short host name."""
    value = value.strip().lower()
    out = [value]
    host = value
    if "://" in host:
        host = urlsplit(host).hostname or host
    elif host.count(":") == 1:  # host:port (an IPv6 address has several colons)
        name, _, port = host.partition(":")
        if port.isdigit():
            host = name
    out.append(host)
    if not _looks_like_ip(host) and "." in host:
        out.append(host.split(".", 1)[0])
    return list(dict.fromkeys(v for v in out if v))


def _looks_like_ip(host: str) -> bool:
    return host.replace(".", "").isdigit() or ":" in host


def _node_keys(node: Node) -> set[str]:
    keys = {node.name.strip().lower()}
    attributes = node.attributes or {}
    for name in _NODE_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and value.strip():
            keys.add(value.strip().lower())
    learned = attributes.get(LEARNED_NAMES)
    if isinstance(learned, list):
        keys.update(v.strip().lower() for v in learned if isinstance(v, str) and v.strip())
    return keys


def match_node(nodes: list[Node], labels: dict[str, str], label_names: tuple[str, ...]) -> tuple[Node | None, str]:
    """The node an alert's labels name, and how (or why none): the first label that matches wins."""
    for label in label_names:
        value = labels.get(label)
        if not value:
            continue
        for candidate in label_candidates(value):
            found = [n for n in nodes if candidate in _node_keys(n)]
            if len({n.client_id for n in found}) > 1:
                return None, f"label {label}={value!r} matches nodes of several clients"
            if found:
                return found[0], f"label {label}={value!r}"
    tried = ", ".join(label_names)
    return None, f"no node matches the labels {tried}"


def _open_incident(session: Session, fingerprint: str, node: Node | None) -> Ticket | None:
    """The open incident monitoring created for this alert on this node (and so this client), if any.

    Only tickets created from monitoring count: a fingerprint copied into any other ticket absorbs nothing.
    """
    if node is None:
        return None
    return session.scalar(select(Ticket).where(Ticket.channel == "monitoring", Ticket.alert_fingerprint == fingerprint,
                                               Ticket.client_id == node.client_id,
                                               Ticket.nodes.any(Node.id == node.id),
                                               Ticket.status.in_(vocab.OPEN_STATUSES))
                          .order_by(Ticket.id.desc()).limit(1))


def _describe(alert: Alert, node: Node) -> tuple[str, str]:
    name = alert.labels.get("alertname", "alert")
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    subject = f"{name} на {node.name}" + (f": {summary}" if summary else "")
    lines = [alert.annotations.get("description") or summary, "",
             f"Мониторинг: {name}, severity={alert.labels.get('severity', '-')}, "
             f"начало {alert.starts_at.isoformat()}"]
    lines += [f"{k}={v}" for k, v in sorted(alert.labels.items())]
    if alert.generator_url:
        lines.append(alert.generator_url)
    return subject[:500], "\n".join(lines).strip()


#: Attempts of a notification that lost a race for the same incident (the retry comments on the winner's).
_ATTEMPTS = 3


def ingest_alertmanager(session: Session, *, payload: object, now: datetime | None = None,
                        settings: Settings | None = None) -> dict[str, Any]:
    """Apply one Alertmanager notification: create or comment incidents, commit once; a per-alert report.

    Identical notifications arriving together create one incident: the unique index of open monitoring
    incidents refuses the second, which is then applied again and finds the first.
    """
    now, settings = utc_now(now), current_settings(settings)
    alerts = parse_notification(payload)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with unit_of_work(session) as uow:
                results = _stage_alerts(uow, alerts, now=now, settings=settings)
        except IntegrityError:  # rolled back: another notification created the incident meanwhile
            if attempt == _ATTEMPTS:
                raise
            continue
        counts = {outcome: sum(1 for r in results if r["outcome"] == outcome)
                  for outcome in ("created", "commented", "resolved", "ignored", "unmatched")}
        return {"alerts": len(results), **counts, "results": results}
    raise AssertionError("unreachable")


def _stage_alerts(uow: UnitOfWork, alerts: list[Alert], *, now: datetime, settings: Settings) -> list[dict[str, Any]]:
    """Stage every alert of a notification in the unit of work; one result per alert."""
    nodes = list(uow.session.scalars(select(Node))) if alerts else []
    results = []
    for alert in alerts:
        node, how = match_node(nodes, alert.labels, tuple(settings.alertmanager_node_labels))
        result: dict[str, Any] = {"fingerprint": alert.fingerprint, "status": alert.status, "match": how}
        result.update(_stage_alert(uow, alert, node, now=now, settings=settings, how=how))
        results.append(result)
    return results


def _stage_alert(uow: UnitOfWork, alert: Alert, node: Node | None, *, now: datetime,
                 settings: Settings, how: str = "") -> dict[str, Any]:
    """Comment the open incident of the alert, open a new one, or keep it as unmatched; the outcome."""
    existing = _open_incident(uow.session, alert.fingerprint, node)
    if alert.status == "resolved":
        if existing is None:
            return _keep_unmatched(uow.session, alert, how, now) if node is None else {"outcome": "ignored"}
        return _stage_resolved(uow, existing, alert, now=now, settings=settings)
    if existing is not None:
        body = f"Мониторинг: алерт всё ещё активен (firing с {alert.starts_at.isoformat()})."
        stage_comment(uow, existing, author=ACTOR, body=body, public=False, actor=ACTOR, now=now, settings=settings)
        return {"outcome": "commented", "ticket_id": existing.id}
    if node is None:
        return _keep_unmatched(uow.session, alert, how, now)
    ticket = _stage_incident(uow, alert, node, now=now, settings=settings)
    return {"outcome": "created", "ticket_id": ticket.id, "node_id": node.id}


def _stage_incident(uow: UnitOfWork, alert: Alert, node: Node, *, now: datetime, settings: Settings) -> Ticket:
    subject, description = _describe(alert, node)
    severity = alert.labels.get("severity") or None
    return stage_ticket(uow, actor=ACTOR, now=now, settings=settings, fields={
        "client_id": node.client_id, "subject": subject, "description": description, "channel": "monitoring",
        "type": "incident", "node_ids": [node.id], "requester_name": "Alertmanager",
        "alert_fingerprint": alert.fingerprint, "alert_severity": severity and severity[:20],
    })


def _stage_resolved(uow: UnitOfWork, ticket: Ticket, alert: Alert, *, now: datetime,
                    settings: Settings) -> dict[str, Any]:
    """A comment on the incident; with ``alertmanager_resolve_incidents``, also its move to "resolved"."""
    ended = (alert.ends_at or now).isoformat()
    body = f"Мониторинг: алерт снят (resolved) в {ended}."
    stage_comment(uow, ticket, author=ACTOR, body=body, public=False, actor=ACTOR, now=now, settings=settings)
    if settings.alertmanager_resolve_incidents and "resolve" in allowed_actions(ticket.status):
        stage_action(uow, ticket, action="resolve", actor=ACTOR, now=now, settings=settings,
                     params={"resolution": f"Мониторинг: алерт снят в {ended}; подтвердите, что всё работает."})
        return {"outcome": "resolved", "ticket_id": ticket.id}
    return {"outcome": "commented", "ticket_id": ticket.id}


def _keep_unmatched(session: Session, alert: Alert, how: str, now: datetime) -> dict[str, Any]:
    """Store (or count again) an alert no node matched, for staff to link."""
    row = session.scalar(select(UnmatchedAlert).where(UnmatchedAlert.fingerprint == alert.fingerprint,
                                                      UnmatchedAlert.node_id.is_(None)).limit(1))
    if row is None:
        row = UnmatchedAlert(fingerprint=alert.fingerprint, alert_status=alert.status,
                             alertname=(alert.labels.get("alertname") or "")[:200] or None, labels=alert.labels,
                             annotations=alert.annotations, reason=how[:500] or "no node matched",
                             received_at=now, repeats=1)
        session.add(row)
        session.flush()
    else:
        row.alert_status, row.labels, row.annotations = alert.status, alert.labels, alert.annotations
        row.repeats += 1
    return {"outcome": "unmatched", "unmatched_id": row.id}


def unmatched_alerts(session: Session, *, limit: int = 200) -> list[UnmatchedAlert]:
    """Alerts waiting to be linked, firing first, then the newest."""
    rows = session.scalars(select(UnmatchedAlert).where(UnmatchedAlert.node_id.is_(None))
                           .order_by(UnmatchedAlert.received_at.desc(), UnmatchedAlert.id.desc()).limit(limit))
    return sorted(rows, key=lambda r: r.alert_status != "firing")


def _label_value(row: UnmatchedAlert, label_names: tuple[str, ...]) -> str | None:
    for label in label_names:
        value = (row.labels or {}).get(label)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def link_to_node(session: Session, *, alert_id: object, node_id: object, actor: str, now: datetime | None = None,
                 settings: Settings | None = None) -> dict[str, Any]:
    """Teach the mapping (the alert's node label value joins ``attributes.alert_names`` of the node) and, for
    a firing alert, open its incident on the node; one commit."""
    now, settings = utc_now(now), current_settings(settings)
    row = session.get(UnmatchedAlert, alert_id) if _valid_id(alert_id) else None
    if row is None or row.node_id is not None:
        raise WorkflowInputError(f"unmatched alert {alert_id} not found", "alert_id")
    node = session.get(Node, node_id) if _valid_id(node_id) else None
    if node is None:
        raise WorkflowInputError(f"node {node_id} not found", "node_id")
    value = _label_value(row, tuple(settings.alertmanager_node_labels))
    with unit_of_work(session) as uow:
        if value:
            learned = [v for v in (node.attributes or {}).get(LEARNED_NAMES, []) if isinstance(v, str)]
            node.attributes = {**(node.attributes or {}), LEARNED_NAMES: sorted({*learned, value.lower()})}
        ticket_id = None
        if row.alert_status == "firing" and _open_incident(session, row.fingerprint, node) is None:
            alert = Alert(status="firing", labels=row.labels or {}, annotations=row.annotations or {},
                          starts_at=row.received_at, ends_at=None, fingerprint=row.fingerprint, generator_url=None)
            ticket_id = _stage_incident(uow, alert, node, now=now, settings=settings).id
        row.node_id, row.ticket_id, row.linked_by = node.id, ticket_id, actor[:200]
    return {"alert_id": row.id, "node_id": node.id, "learned": value, "ticket_id": ticket_id}


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
