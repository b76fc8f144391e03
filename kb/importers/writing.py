"""Importing a file: validate every row, then upsert the valid ones by external_id, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.importers.fields import ENTITIES
from kb.importers.mapping import Mapping
from kb.importers.references import (
    Directory,
    check_node_names,
    reject_dangling_dependencies,
    resolve_references,
)
from kb.importers.report import ImportFileError, ImportReport
from kb.importers.rows import ParsedRow, parse_rows
from kb.importers.sources import read_source
from kb.models import Article, Assignment, AuditEvent, Client, Node, Skill, Specialist, Ticket

MODELS = {"clients": Client, "nodes": Node, "specialists": Specialist, "tickets": Ticket, "articles": Article}
#: Fields that are not plain columns of the model: references and relationships, set apart.
RELATION_FIELDS = {"client", "field_engineer", "depends_on", "skills", "nodes", "assignees"}

#: Error lines kept in the audit summary (the CLI prints them all).
AUDIT_ERROR_LIMIT = 50


def import_file(session: Session, *, entity: str, path: str | Path, mapping: Mapping | None = None,
                skip_invalid: bool = False, dry_run: bool = False, actor: str = "import",
                delimiter: str | None = None, encoding: str = "utf-8") -> ImportReport:
    """Validate every row of ``path`` and upsert the valid ones by external_id (flush, no commit).

    With bad rows and ``skip_invalid`` False nothing is written and the report lists every error.
    ``dry_run`` validates and counts without writing. Raises ImportFileError for file-level problems.
    """
    if entity not in ENTITIES:
        raise ImportFileError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    path = Path(path)
    mapping = mapping or Mapping()
    table = read_source(path, delimiter=delimiter, encoding=encoding)
    report = ImportReport(entity=entity, file=str(path), rows=len(table.rows) + len(table.errors),
                          skip_invalid=skip_invalid, dry_run=dry_run)
    rows, errors = parse_rows(entity, table, mapping, path)
    directory = Directory(session)
    errors.extend(resolve_references(entity, rows, directory, path))
    existing = _existing(session, MODELS[entity], [r.values["external_id"] for r in rows])
    if entity == "nodes":
        errors.extend(check_node_names(rows, directory, path))
        errors.extend(reject_dangling_dependencies(rows, path))
    report.errors = sorted(errors, key=lambda e: e.row)
    if errors and not skip_invalid:
        return report
    report.created = sum(1 for r in rows if r.values["external_id"] not in existing)
    report.updated = len(rows) - report.created
    if dry_run:
        return report
    _write(session, entity, rows, existing)
    session.add(AuditEvent(
        entity="import", entity_id=0, action=f"import_{entity}", actor=actor,
        data={"file": str(path), "rows": report.rows, "created": report.created, "updated": report.updated,
              "rejected": report.rejected, "errors": [str(e) for e in report.errors[:AUDIT_ERROR_LIMIT]]}))
    session.flush()
    return report


def _existing(session: Session, model, external_ids: list[str]) -> dict[str, Any]:
    """The stored objects with these external ids, by external id."""
    found: dict[str, Any] = {}
    # In chunks: databases cap the number of bound parameters of one statement.
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start:start + 500]
        for obj in session.scalars(select(model).where(model.external_id.in_(chunk))):
            found[obj.external_id] = obj
    return found


def _apply(entity: str, obj: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name in RELATION_FIELDS:
            continue
        setattr(obj, name, value)
    if entity in ("nodes", "tickets") and "client" in values:
        obj.client_id = values["client"]
    if entity == "clients" and "field_engineer" in values:
        obj.field_engineer_id = values["field_engineer"]


def _write(session: Session, entity: str, rows: list[ParsedRow], existing: dict[str, Any]) -> tuple[int, int]:
    """Create or update one object per row, then set its relationships; return (created, updated)."""
    model = MODELS[entity]
    created = updated = 0
    objects: dict[str, Any] = {}
    for row in rows:
        values = row.values
        obj = existing.get(values["external_id"])
        if obj is None:
            obj = model(external_id=values["external_id"])
            session.add(obj)
            created += 1
        else:
            updated += 1
        _apply(entity, obj, values)
        objects[values["external_id"]] = (obj, row)
    # Flushed first: nodes of this file get the ids that links to them ("file" references) need.
    session.flush()
    for obj, row in objects.values():
        values = row.values
        if entity == "specialists" and "skills" in values:
            _set_skills(obj, values["skills"])
        if entity in ("nodes", "tickets"):
            link = "depends_on" if entity == "nodes" else "nodes"
            if link in values:
                ids = [objects[key][0].id if source == "file" else key for source, key in values[link]]
                setattr(obj, link, list(session.scalars(select(Node).where(Node.id.in_(ids)))) if ids else [])
        if entity == "tickets" and "assignees" in values:
            _set_assignees(obj, values["assignees"])
    session.flush()
    return created, updated


def _set_skills(specialist: Specialist, wanted: dict[str, int]) -> None:
    for skill in list(specialist.skills):
        if skill.group not in wanted:
            specialist.skills.remove(skill)
        else:
            skill.level = wanted.pop(skill.group)
    specialist.skills.extend(Skill(group=g, level=lvl) for g, lvl in wanted.items())


def _set_assignees(ticket: Ticket, specialist_ids: list[int]) -> None:
    order = list(dict.fromkeys(specialist_ids))
    for assignment in list(ticket.assignees):
        if assignment.specialist_id not in order:
            ticket.assignees.remove(assignment)
    current = {a.specialist_id: a for a in ticket.assignees}
    for index, specialist_id in enumerate(order):
        role = "primary" if index == 0 else "helper"
        if specialist_id in current:
            current[specialist_id].role = role
        else:
            assignment = Assignment(specialist_id=specialist_id, role=role)
            # An imported ticket's assignees were assigned when it was created, not at import time.
            if ticket.created_at is not None:
                assignment.assigned_at = ticket.created_at
            ticket.assignees.append(assignment)
