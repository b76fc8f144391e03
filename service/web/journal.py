"""A ticket's audit trail in plain words: each event as who, when, what, and its facts named for people
(statuses, priorities, groups and specialists by name, never a Python dictionary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb.models import AuditEvent
from service.web import i18n

#: Facts whose values are codes of a vocabulary, and the table that names them.
_CODED = {"from": i18n.STATUS_LABELS, "to": i18n.STATUS_LABELS, "work_kind": i18n.BILLING_LABELS,
          "priority": i18n.PRIORITY_LABELS, "group": i18n.GROUP_LABELS, "channel": i18n.CHANNEL_LABELS,
          "type": i18n.TYPE_LABELS, "billing_mode": i18n.BILLING_LABELS, "triaged_by": i18n.TRIAGED_BY_LABELS}
#: Facts whose {"from", "to"} change is worded with a vocabulary.
_CHANGES = {"priority": i18n.PRIORITY_LABELS, "group": i18n.GROUP_LABELS}
#: How the audit trail marks a client's person (service.platform.auth.actor_name, the e-mail intake).
CLIENT_PREFIX = "client:"
#: Facts left out: ids the reader cannot use.
_HIDDEN = {"time_entry_id", "comment_id", "ticket_id", "automatic"}


@dataclass
class JournalLine:
    """One event, worded."""

    at: Any
    actor: str
    action: str
    facts: list[tuple[str, str]]


def _value(name: str, value: Any, names: dict[int, str]) -> str:
    if isinstance(value, dict) and set(value) <= {"from", "to"}:
        table = _CHANGES.get(name, {})
        return f"{i18n.label(table, value.get('from'))} → {i18n.label(table, value.get('to'))}"
    if name in _CODED:
        return i18n.label(_CODED[name], value)
    if name in ("specialist_id", "specialist_ids", "released"):
        ids = value if isinstance(value, list) else [value]
        return ", ".join(names.get(v, f"#{v}") for v in ids if v is not None) or "—"
    if isinstance(value, bool):
        return str(i18n._("да")) if value else str(i18n._("нет"))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{i18n.label(i18n.FIELD_LABELS, k)}: {_value(k, v, names)}" for k, v in value.items())
    return str(value)


def specialist_ids_of(events: list[AuditEvent]) -> set[int]:
    """Every specialist id the events mention (to name them)."""
    found: set[int] = set()
    for event in events:
        for key in ("specialist_id", "specialist_ids", "released"):
            value = (event.data or {}).get(key)
            found.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
    return found


def worded(events: list[AuditEvent], names: dict[int, str]) -> list[JournalLine]:
    """The events in plain words; ``names`` maps specialist ids to names."""
    lines = []
    for event in events:
        facts = []
        for key, value in (event.data or {}).items():
            if key in _HIDDEN or value in (None, "", [], {}):
                continue
            facts.append((i18n.label(i18n.FIELD_LABELS, key), _value(key, value, names)))
        lines.append(JournalLine(event.at, actor_label(event.actor), i18n.label(i18n.ACTION_LABELS, event.action),
                                 facts))
    return lines


def actor_label(actor: str | None) -> str:
    """Who did it, for people: a client's person (audited as ``client:<login or address>``) by name with a
    "(client)" marker, never the internal prefix."""
    if actor and actor.startswith(CLIENT_PREFIX):
        return i18n.gettext("%(name)s (клиент)", name=actor[len(CLIENT_PREFIX):])
    return actor or "—"
